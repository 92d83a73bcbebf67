#include <linux/module.h>
#define INCLUDE_VERMAGIC
#include <linux/build-salt.h>
#include <linux/elfnote-lto.h>
#include <linux/export-internal.h>
#include <linux/vermagic.h>
#include <linux/compiler.h>

BUILD_SALT;
BUILD_LTO_INFO;

MODULE_INFO(vermagic, VERMAGIC_STRING);
MODULE_INFO(name, KBUILD_MODNAME);

__visible struct module __this_module
__section(".gnu.linkonce.this_module") = {
	.name = KBUILD_MODNAME,
	.init = init_module,
#ifdef CONFIG_MODULE_UNLOAD
	.exit = cleanup_module,
#endif
	.arch = MODULE_ARCH_INIT,
};

#ifdef CONFIG_RETPOLINE
MODULE_INFO(retpoline, "Y");
#endif


static const struct modversion_info ____versions[]
__used __section("__versions") = {
	{ 0x47978cc, "misc_deregister" },
	{ 0x13c49cc2, "_copy_from_user" },
	{ 0x8dfe087e, "__mmap_lock_do_trace_acquire_returned" },
	{ 0x7d27d33f, "fget" },
	{ 0x37a0cba, "kfree" },
	{ 0x1d4044b4, "zap_vma_ptes" },
	{ 0x970f9df6, "__tracepoint_mmap_lock_acquire_returned" },
	{ 0x85442f22, "apply_to_existing_page_range" },
	{ 0xa59c5e71, "__tracepoint_mmap_lock_released" },
	{ 0xba8fbd64, "_raw_spin_lock" },
	{ 0xbdfb6dbb, "__fentry__" },
	{ 0xa19b956, "__stack_chk_fail" },
	{ 0x7d173e99, "__free_pages" },
	{ 0x7cd8d75e, "page_offset_base" },
	{ 0x599fb41c, "kvmalloc_node" },
	{ 0x3ef022ec, "compat_ptr_ioctl" },
	{ 0x70a30df6, "vm_insert_page" },
	{ 0x68f31cbd, "__list_add_valid" },
	{ 0xa1194a8a, "fput" },
	{ 0x1d19f77b, "physical_mask" },
	{ 0x8df92f66, "memchr_inv" },
	{ 0x505f95b0, "noop_llseek" },
	{ 0x4dfa8d4b, "mutex_lock" },
	{ 0x670ecece, "__x86_indirect_thunk_rbx" },
	{ 0xce84086f, "apply_to_page_range" },
	{ 0xe1537255, "__list_del_entry_valid" },
	{ 0xcefb0c9f, "__mutex_init" },
	{ 0x68fb37ae, "current_task" },
	{ 0x844c8938, "misc_register" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x6b10bee1, "_copy_to_user" },
	{ 0x62f7e207, "down_read_killable" },
	{ 0x6d16c104, "mutex_lock_killable" },
	{ 0x5690cb1e, "__mmdrop" },
	{ 0x22adf505, "pv_ops" },
	{ 0x34e148d7, "__mmap_lock_do_trace_start_locking" },
	{ 0x97651e6c, "vmemmap_base" },
	{ 0xc512626a, "__supported_pte_mask" },
	{ 0x3213f038, "mutex_unlock" },
	{ 0xd9491c14, "xa_destroy" },
	{ 0x8fa25c24, "xa_find" },
	{ 0x11dd3e1e, "alloc_pages" },
	{ 0x2956c81b, "__tracepoint_mmap_lock_start_locking" },
	{ 0xf0949581, "seq_printf" },
	{ 0x2d129d4a, "__mmap_lock_do_trace_released" },
	{ 0x5b3e282f, "xa_store" },
	{ 0xc07351b3, "__SCT__cond_resched" },
	{ 0xdf36914b, "xa_find_after" },
	{ 0x606e9d01, "kmalloc_trace" },
	{ 0x7aa1756e, "kvfree" },
	{ 0xb5b54b34, "_raw_spin_unlock" },
	{ 0x53b954a2, "up_read" },
	{ 0x7a7caba8, "kmalloc_caches" },
	{ 0x32e8cfea, "mtree_load" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

