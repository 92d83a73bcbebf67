// SPDX-License-Identifier: GPL-2.0
/*
 * The example of docs/libexmap.md, word for word (test/install-test.sh
 * checks); make check builds and runs it, in the tree and installed.
 */
#include <stdio.h>
#include <libexmap.h>

int main(void)
{
	struct exmap_opts o = {
		.area_pages = 1 << 20, .pool_pages = 1024,
		.nr_interfaces = 1, .backing_fd = -1,
	};
	struct exmap *x;
	struct exmap_if *i;
	char *area;
	int ret = exmap_create(&x, &o);

	if (ret)
		return 1;
	area = exmap_area(x);
	i = exmap_interface(x, 0);
	exmap_vec_add(i, 42, 8);
	if (exmap_alloc(i) == 0)
		area[42 * EXMAP_PAGE_SIZE] = 'x';
	exmap_free(i);
	printf("%s backend\n", exmap_backend_name(exmap_backend_of(x)));
	exmap_destroy(x);
	return 0;
}
