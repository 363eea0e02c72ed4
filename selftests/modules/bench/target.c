// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's probed function. In C so that it has an ftrace site: kprobe
 * events refuse a function without one ("notrace"), pstore/ftrace cannot see
 * one, and 6.12 builds Rust code without ftrace sites. Its body is one
 * relocatable instruction of at least 5 bytes after the ftrace site, so that
 * x86 can optimize a kprobe there (OPTPROBES need room for a 5-byte jump).
 */
#include <linux/compiler.h>
#include <linux/types.h>
#include "bindings_wrapper.h"

noinline u64 htbench_target(u64 x)
{
	return x * 3 + 0x12345;
}
