/* SPDX-License-Identifier: GPL-2.0 */
/* CRC-32C (Castagnoli), as iSCSI, ext4 and btrfs use it. */
#ifndef KV_CRC32C_H
#define KV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continues a CRC: crc32c(crc32c(0, a), b) == crc32c(0, a followed by b).
 * crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
