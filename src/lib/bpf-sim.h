/* bpf-sim.h - runs a classic seccomp BPF program on one system call, as
 * the kernel would, to learn its action before any process is under it. */
#ifndef CORRAL_BPF_SIM_H
#define CORRAL_BPF_SIM_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>

/* The program's return value for *d (SECCOMP_RET_*, with its data), or
 * SECCOMP_RET_KILL_PROCESS for a program the kernel would not accept
 * (an unknown instruction, a jump out of it, a load out of seccomp_data,
 * no return). */
uint32_t corral_bpf_run (const struct sock_fprog *prog, const struct seccomp_data *d);

#endif
