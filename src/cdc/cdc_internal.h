/*
 * cdc_internal.h - helpers shared by the files of the cdc subsystem only;
 * other subsystems include cdc/cdc.h.
 */
#ifndef RT_CDC_INTERNAL_H
#define RT_CDC_INTERNAL_H

#include "cdc/cdc.h"

/* The oid of the built-in type named name ("int4", "_text", ...) among those
 * with a JSON mapping (pgvalue.c), or 0. */
uint32_t rt_cdc_builtin_type_oid(const char *name);

/* Appends the standard base64 (RFC 4648 §4, padded) of n bytes to out. */
void rt_cdc_base64_append(rt_buf_t *out, const uint8_t *p, size_t n);

/* Operations as a small enum, from their JSON names; RT_CDC_OP_* or 0. */
unsigned rt_cdc_op_parse(const char *op);

#endif
