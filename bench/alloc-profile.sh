#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/vm-profile.sh: perf profiles of bench-alloc's
# exmap-1IF, one per thread count and batch size, each followed by its
# samples grouped into the steps of docs/design.md ("Where the time goes").
#
# usage: alloc-profile.sh [-t "THREADS"] [-b "BATCHES"] [-s SECONDS]
threads="1 2" batches="1 64 512" secs=3
while getopts t:b:s: opt; do
	case $opt in
	t) threads=$OPTARG ;;
	b) batches=$OPTARG ;;
	s) secs=$OPTARG ;;
	*) exit 2 ;;
	esac
done
# Which step a symbol belongs to; "[.]" symbols are the program's own.
steps() {
	awk '
	function step(sym, kind) {
	  if (kind == "[.]") return "user (touch loop, libc)";
	  if (sym ~ /^(entry_SYSCALL|syscall_|do_syscall_64|x64_sys_call|__x64_sys_ioctl|__fget_light|fput|do_vfs_ioctl|security_file_ioctl|tomoyo_|exmap_ioctl|_copy_from_user|_copy_to_user|copy_user_|__static_call_text_end|exit_to_user_mode|__rcu_read_|__check_object_size|check_stack_object|__virt_addr_valid|rcu_read_unlock_strict|__fdget|__x86_indirect_thunk|__x86_return_thunk|irqentry_exit)/) return "syscall entry/exit, fd, LSM, arg copy";
	  if (sym ~ /^exmap_action/) return "gate, vector load/store";
	  if (sym ~ /^(mutex_|down_read|up_read|_raw_spin_lock$|_raw_spin_unlock$|__mutex|preempt_count)/) return "locks (interface, mmap_lock, PTE)";
	  if (sym ~ /^(exmap_pool|exmap_take|exmap_frames|exmap_steal|exmap_grow)/) return "pool";
	  if (sym ~ /^(mtree_|mas_|mt_find|vma_lookup|find_vma|exmap_area|exmap_entry_vma|exmap_entries)/) return "VMA lookup";
	  if (sym ~ /^(exmap_pt_|exmap_ptw|exmap_existing_pmd|native_set_pte|pmd_val|pud_val|p4d_val|pgd_val|exmap_pte_nop|apply_to)/) return "page-table walk, PTE writes";
	  if (sym ~ /^(zap_|unmap_|tlb_|flush_tlb|smp_call_function|native_flush_tlb|_flat_send_IPI|x2apic|default_send_IPI|lru_add_drain|mlock_page_drain|exmap_tlb|mmu_notifier|__tlb|free_pages_and|native_send_call_func|llist_add|__smp_call|flush_smp_call|sysvec_call_function|__sysvec_call|generic_smp_call|__flush_smp_call|inc_tlb|dec_tlb|release_pages|update_hiwater)/) return "TLB flush, IPIs, zap";
	  if (sym ~ /^(exmap_alloc|exmap_free|exmap_count|exmap_stats)/) return "ALLOC/FREE bookkeeping";
	  return "other (scheduler, timers, sampler thread, idle)";
	}
	/%/ { p = $1; sub(/%/, "", p); tot[step($3, $2)] += p }
	END { for (c in tot) printf "%6.2f%%  %s\n", tot[c], c }
	' "$@"
}

echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
for t in $threads; do
	for b in $batches; do
		echo "##### threads $t batch $b"
		perf record -q -e cpu-clock -F 2000 -o /tmp/alloc.perf \
			bench-alloc -s "$secs" -r 1 -t "$t" -b "$b" -m exmap-1IF |
			grep '^exmap-1IF' || exit 1
		perf report -i /tmp/alloc.perf --no-children --sort sym \
			--stdio -g none 2>/dev/null | grep '%' >/tmp/alloc.syms
		head -n 20 /tmp/alloc.syms
		echo "--- steps"
		steps /tmp/alloc.syms
	done
done
