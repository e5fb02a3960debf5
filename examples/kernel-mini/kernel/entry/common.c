// SPDX-License-Identifier: GPL-2.0
/* Excerpt of kernel/entry/common.c (Linux 6.12), bodies trimmed. */
#include <linux/compiler_types.h>
#include <linux/instrumentation.h>

noinstr irqentry_state_t irqentry_enter(struct pt_regs *regs)
{
	irqentry_state_t ret = { .exit_rcu = false, };

	lockdep_hardirqs_off(CALLER_ADDR0);
	ct_irq_enter();
	instrumentation_begin();
	kmsan_unpoison_entry_regs(regs);
	trace_hardirqs_off_finish();
	instrumentation_end();
	ret.exit_rcu = true;
	return ret;
}

noinstr void irqentry_exit(struct pt_regs *regs, irqentry_state_t state)
{
	if (state.exit_rcu) {
		instrumentation_begin();
		/* Tell the tracer that IRET will enable interrupts */
		trace_hardirqs_on_prepare();
		lockdep_hardirqs_on_prepare();
		instrumentation_end();
		ct_irq_exit();
		lockdep_hardirqs_on(CALLER_ADDR0);
		return;
	}
}

/* Stand-ins for the noinstr helpers these call, as in kernel/locking/lockdep.c and
 * kernel/context_tracking.c. */
noinstr void lockdep_hardirqs_off(unsigned long ip) { }
noinstr void lockdep_hardirqs_on(unsigned long ip) { }
noinstr void ct_irq_enter(void) { }
noinstr void ct_irq_exit(void) { }
void kmsan_unpoison_entry_regs(const struct pt_regs *regs) { }
void trace_hardirqs_off_finish(void) { }
void trace_hardirqs_on_prepare(void) { }
void lockdep_hardirqs_on_prepare(void) { }
