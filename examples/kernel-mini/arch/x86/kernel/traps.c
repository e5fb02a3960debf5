// SPDX-License-Identifier: GPL-2.0
/* Excerpt of arch/x86/kernel/traps.c (Linux 6.12), trimmed: the shapes are real. */
#include <linux/compiler_types.h>
#include <linux/instrumentation.h>
#include <asm/idtentry.h>

static void do_error_trap(struct pt_regs *regs, long error_code, char *str,
	unsigned long trapnr, int signr, int sicode, void __user *addr)
{
}

/* The body is __always_inline and runs inside the wrapper's instrumentation region. */
DEFINE_IDTENTRY(exc_overflow)
{
	do_error_trap(regs, 0, "overflow", X86_TRAP_OF, SIGSEGV, 0, NULL);
}

static bool do_int3(struct pt_regs *regs)
{
	return false;
}
NOKPROBE_SYMBOL(do_int3);

static void do_int3_user(struct pt_regs *regs)
{
}

/* A raw entry: the body itself is noinstr; each branch opens its own region. */
DEFINE_IDTENTRY_RAW(exc_int3)
{
	if (user_mode(regs)) {
		irqentry_enter_from_user_mode(regs);
		instrumentation_begin();
		do_int3_user(regs);
		instrumentation_end();
		irqentry_exit_to_user_mode(regs);
	} else {
		irqentry_state_t irq_state = irqentry_nmi_enter(regs);

		instrumentation_begin();
		if (!do_int3(regs))
			die("int3", regs, 0);
		instrumentation_end();
		irqentry_nmi_exit(regs, irq_state);
	}
}

/* A debug-exception body that forgot its region: objtool would catch this one on x86. */
DEFINE_IDTENTRY_RAW(exc_machine_check_example)
{
	irqentry_state_t irq_state = irqentry_nmi_enter(regs);

	do_int3_user(regs);
	irqentry_nmi_exit(regs, irq_state);
}

static __always_inline bool user_mode(struct pt_regs *regs)
{
	return !!(regs->cs & 3);
}

noinstr void irqentry_enter_from_user_mode(struct pt_regs *regs) { }
noinstr void irqentry_exit_to_user_mode(struct pt_regs *regs) { }
noinstr irqentry_state_t irqentry_nmi_enter(struct pt_regs *regs) { }
noinstr void irqentry_nmi_exit(struct pt_regs *regs, irqentry_state_t irq_state) { }
void die(const char *str, struct pt_regs *regs, long err) { }
