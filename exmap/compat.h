/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap: what differs between the kernels the module builds for (Debian's
 * 6.1 and 6.12), in one place. The other files call these helpers where
 * the kernel's API changed, so that a new kernel means a change here only.
 *
 *   vm_flags     read-only from 6.3 on: set through vm_flags_set(), which
 *                also marks the VMA written for per-VMA locking.
 *   io_uring     struct io_uring_cmd moved to <linux/io_uring/cmd.h>, and
 *                the command's bytes are reached through its SQE there
 *                (io_uring_sqe_cmd()); before, through ->cmd. Only 6.1 and
 *                6.12 are built and tested: kernels between them that have
 *                the SQE but not the new header need a third case.
 *
 *   placement    the mm's own get_unmapped_area was a field of mm_struct
 *                until 6.10 and is mm_get_unmapped_area() since.
 *   PTE lock     pte_offset_map_lock() is out of line from 6.5 on and not
 *                exported (__pte_offset_map_lock): modules can no longer
 *                map and lock a user page table with it. exmap_pte_lock()
 *                does its steps with what the headers give (all inline).
 *                It may fail from 6.5 on, when the PMD changes meanwhile.
 *                pte_offset_map() went the same way: exmap_pte_map().
 *
 * The module does not use zap_page_range(), folios or PMD insertion,
 * which changed too.
 */
#ifndef EXMAP_COMPAT_H
#define EXMAP_COMPAT_H

#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/version.h>

#if __has_include("linux/io_uring/cmd.h")
#include <linux/io_uring/cmd.h>
#define EXMAP_URING_CMD_IN_SQE
#else
#include <linux/io_uring.h>
#endif

static inline void exmap_vm_flags_set(struct vm_area_struct *vma,
				      vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* Where the process would place a mapping of @len bytes by itself. */
static inline unsigned long
exmap_mm_get_unmapped_area(struct file *file, unsigned long addr,
			   unsigned long len, unsigned long pgoff,
			   unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	return mm_get_unmapped_area(current->mm, file, addr, len, pgoff,
				    flags);
#else
	return current->mm->get_unmapped_area(file, addr, len, pgoff, flags);
#endif
}

/* The command's own bytes: struct exmap_uring_cmd. */
static inline const void *
exmap_uring_cmd_bytes(const struct io_uring_cmd *ioucmd)
{
#ifdef EXMAP_URING_CMD_IN_SQE
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/*
 * The PTE of @addr in the page table @pmd points to, with that table's
 * lock held (*@ptlp), or NULL when @pmd no longer points to a page table.
 * The caller holds mmap_lock; exmap_pte_unlock() undoes it.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
static inline pte_t *exmap_pte_lock(struct mm_struct *mm, pmd_t *pmd,
				    unsigned long addr, spinlock_t **ptlp)
{
	spinlock_t *ptl;
	pmd_t val;
	pte_t *pte;

	/* Page tables may be freed by RCU from 6.5 on; pte_unmap() ends it. */
	rcu_read_lock();
	val = pmdp_get_lockless(pmd);
	if (!pmd_present(val) || pmd_trans_huge(val) || pmd_devmap(val) ||
	    pmd_bad(val))
		goto fail;
	pte = pte_offset_kernel(&val, addr);
	ptl = pte_lockptr(mm, &val);
	spin_lock(ptl);
	/* Still the table whose lock was taken? */
	if (likely(pmd_same(val, pmdp_get_lockless(pmd)))) {
		*ptlp = ptl;
		return pte;
	}
	spin_unlock(ptl);
fail:
	rcu_read_unlock();
	return NULL;
}
#else
static inline pte_t *exmap_pte_lock(struct mm_struct *mm, pmd_t *pmd,
				    unsigned long addr, spinlock_t **ptlp)
{
	return pte_offset_map_lock(mm, pmd, addr, ptlp);
}
#endif

static inline void exmap_pte_unlock(pte_t *pte, spinlock_t *ptl)
{
	pte_unmap_unlock(pte, ptl);
}

/*
 * The PTE of @addr in the page table @pmd points to, mapped but not
 * locked, for a caller that checked @pmd under mmap_lock and holds the
 * table's lock (pte_lockptr()): pte_offset_map() as 6.1 has it, which
 * from 6.5 on is out of line, not exported, and checks the PMD again.
 * exmap_pte_unmap() undoes it.
 */
static inline pte_t *exmap_pte_map(pmd_t *pmd, unsigned long addr)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	rcu_read_lock();	/* as the kernel's; pte_unmap() ends it */
	return pte_offset_kernel(pmd, addr);
#else
	return pte_offset_map(pmd, addr);
#endif
}

static inline void exmap_pte_unmap(pte_t *pte)
{
	pte_unmap(pte);
}

#endif /* EXMAP_COMPAT_H */
