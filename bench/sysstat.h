/* SPDX-License-Identifier: GPL-2.0 */
/* System counters the benchmarks read around a run. */
#ifndef EXMAP_BENCH_SYSSTAT_H
#define EXMAP_BENCH_SYSSTAT_H

/*
 * TLB shootdown interrupts received so far, summed over all CPUs (the "TLB"
 * line of /proc/interrupts; x86 only). -1 if there is no such line.
 */
long long sys_tlb_shootdowns(void);

/* Resets the process's peak resident set (VmHWM) to its current size. */
void sys_reset_peak_rss(void);

/* The process's VmRSS or VmHWM (@field, without the colon) in pages. */
long sys_rss_pages(const char *field);

/* Frames exmap holds for all contexts together; -1 if unknown. */
long sys_exmap_frames(void);

#endif
