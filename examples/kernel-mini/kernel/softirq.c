// SPDX-License-Identifier: GPL-2.0
/* Excerpt of kernel/softirq.c (Linux 6.12): plain, traceable functions. */

/**
 * irq_enter - Enter an interrupt context including RCU update
 */
void irq_enter(void)
{
	ct_irq_enter();
	irq_enter_rcu();
}

/**
 * irq_exit - Exit an interrupt context, update RCU and lockdep
 *
 * Also processes softirqs if needed and possible.
 */
void irq_exit(void)
{
	__irq_exit_rcu();
	ct_irq_exit();
	 /* must be last! */
	lockdep_hardirq_exit();
}

void irq_enter_rcu(void) { }
void __irq_exit_rcu(void) { }
void lockdep_hardirq_exit(void) { }
