// SPDX-License-Identifier: GPL-2.0
/*
 * Interfaces: one per thread of the buffer manager. Each has a 4 KiB vector
 * page that user space maps at EXMAP_OFF_INTERFACE(i) and fills with
 * entries, its own free list of frames, and a lock that serialises calls
 * made on it.
 *
 * The vector page is allocated on first use, without a lock (a lost race
 * frees its page), because mmap runs under mmap_lock and calls take the
 * interface lock before mmap_lock: a lock here would invert that order.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "exmap.h"

int exmap_interfaces_init(struct exmap_ctx *ctx, unsigned int nr)
{
	struct exmap_interface *ifaces;
	unsigned int i;

	ifaces = kvcalloc(nr, sizeof(*ifaces), GFP_KERNEL_ACCOUNT);
	if (!ifaces)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		mutex_init(&ifaces[i].lock);
		spin_lock_init(&ifaces[i].free_lock);
	}
	ctx->ifaces = ifaces;
	ctx->nr_interfaces = nr;
	return 0;
}

/*
 * Frees the vector pages and scratch copies. Free frames on the lists are
 * not touched: the pool frees every frame it ever took.
 */
void exmap_interfaces_destroy(struct exmap_ctx *ctx)
{
	unsigned int i;

	if (!ctx->ifaces)
		return;
	for (i = 0; i < ctx->nr_interfaces; i++) {
		if (ctx->ifaces[i].vec_page)
			__free_page(ctx->ifaces[i].vec_page);
		kfree(ctx->ifaces[i].entries);
		kfree(ctx->ifaces[i].rewires);
		exmap_io_space_free(ctx->ifaces[i].io_space);
	}
	kvfree(ctx->ifaces);
	ctx->ifaces = NULL;
}

static struct page *exmap_interface_page(struct exmap_interface *iface)
{
	struct page *page = READ_ONCE(iface->vec_page), *old;

	if (page)
		return page;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return NULL;
	old = cmpxchg(&iface->vec_page, NULL, page);
	if (old) {
		__free_page(page);
		return old;
	}
	return page;
}

/* The kernel address of the interface's vector, or NULL without memory. */
struct exmap_iov *exmap_interface_vec(struct exmap_interface *iface)
{
	struct page *page = exmap_interface_page(iface);

	return page ? page_address(page) : NULL;
}

/* Called with mmap_lock (write) and ctx->setup_lock held, after SETUP. */
int exmap_interface_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma)
{
	unsigned long idx = vma->vm_pgoff - 1;
	struct page *page;

	exmap_assert_mmap_write_locked(vma->vm_mm);
	lockdep_assert_held(&ctx->setup_lock);
	if (idx >= ctx->nr_interfaces)
		return -EINVAL;
	/* mmap() has rounded the length up to whole pages already. */
	if (vma->vm_end - vma->vm_start != EXMAP_INTERFACE_SIZE)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	page = exmap_interface_page(&ctx->ifaces[idx]);
	if (!page)
		return -ENOMEM;
	exmap_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY);
	return vm_insert_page(vma, vma->vm_start, page);
}
