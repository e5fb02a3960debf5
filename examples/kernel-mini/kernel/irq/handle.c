// SPDX-License-Identifier: GPL-2.0
/*
 * Excerpt of kernel/irq/handle.c (Linux 6.12).
 *
 * generic_handle_arch_irq() is noinstr but is only built for GENERIC_IRQ_MULTI_HANDLER
 * arches (arm64, riscv, ...), where objtool never runs: its unprotected calls are real
 * findings no build-time tool reports today (see ../shared/SEMANTICS.md section 2.1).
 */
#include <linux/compiler_types.h>
#include <linux/instrumentation.h>
#include <asm-generic/irq_regs.h>

void (*handle_arch_irq)(struct pt_regs *) __ro_after_init;

/**
 * generic_handle_arch_irq - root irq handler for architectures which do no
 *                           entry accounting themselves
 * @regs:	Register file coming from the low-level handling code
 */
asmlinkage void noinstr generic_handle_arch_irq(struct pt_regs *regs)
{
	struct pt_regs *old_regs;

	irq_enter();
	old_regs = set_irq_regs(regs);
	handle_arch_irq(regs);
	set_irq_regs(old_regs);
	irq_exit();
}
