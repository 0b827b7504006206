/* bpf-sim.c - a classic BPF interpreter for seccomp programs: the
 * instructions seccomp_check_filter() accepts, on a struct seccomp_data.
 * Used to check, at policy load, what a policy does to the calls corral
 * itself makes under it (seccomp.c). */
#include "bpf-sim.h"

#include <stddef.h>
#include <string.h>

#define BAD SECCOMP_RET_KILL_PROCESS

static int
load_word (const struct seccomp_data *d, uint32_t off, uint32_t *out)
{
  if (off % 4 != 0 || off > sizeof *d - 4)
    return -1;
  memcpy (out, (const char *) d + off, 4);
  return 0;
}

uint32_t
corral_bpf_run (const struct sock_fprog *prog, const struct seccomp_data *d)
{
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
  size_t n = prog->len;
  for (size_t pc = 0; pc < n; pc++)
    {
      const struct sock_filter *f = &prog->filter[pc];
      uint32_t k = f->k;
      switch (f->code)
        {
        case BPF_LD | BPF_W | BPF_ABS:
          if (load_word (d, k, &a) < 0)
            return BAD;
          break;
        case BPF_LD | BPF_W | BPF_LEN:
          a = sizeof *d;
          break;
        case BPF_LDX | BPF_W | BPF_LEN:
          x = sizeof *d;
          break;
        case BPF_LD | BPF_IMM:
          a = k;
          break;
        case BPF_LDX | BPF_IMM:
          x = k;
          break;
        case BPF_LD | BPF_MEM:
          if (k >= BPF_MEMWORDS)
            return BAD;
          a = mem[k];
          break;
        case BPF_LDX | BPF_MEM:
          if (k >= BPF_MEMWORDS)
            return BAD;
          x = mem[k];
          break;
        case BPF_ST:
          if (k >= BPF_MEMWORDS)
            return BAD;
          mem[k] = a;
          break;
        case BPF_STX:
          if (k >= BPF_MEMWORDS)
            return BAD;
          mem[k] = x;
          break;
        case BPF_MISC | BPF_TAX:
          x = a;
          break;
        case BPF_MISC | BPF_TXA:
          a = x;
          break;
        case BPF_RET | BPF_K:
          return k;
        case BPF_RET | BPF_A:
          return a;
        case BPF_JMP | BPF_JA:
          if (k >= n - pc - 1)
            return BAD;
          pc += k;
          break;
        default:
          if (BPF_CLASS (f->code) == BPF_JMP)
            {
              uint32_t v = BPF_SRC (f->code) == BPF_X ? x : k;
              int t;
              switch (BPF_OP (f->code))
                {
                case BPF_JEQ: t = a == v; break;
                case BPF_JGT: t = a > v; break;
                case BPF_JGE: t = a >= v; break;
                case BPF_JSET: t = (a & v) != 0; break;
                default: return BAD;
                }
              size_t off = t ? f->jt : f->jf;
              if (off >= n - pc - 1)
                return BAD;
              pc += off;
              break;
            }
          if (BPF_CLASS (f->code) == BPF_ALU)
            {
              uint32_t v = BPF_SRC (f->code) == BPF_X ? x : k;
              switch (BPF_OP (f->code))
                {
                case BPF_ADD: a += v; break;
                case BPF_SUB: a -= v; break;
                case BPF_MUL: a *= v; break;
                case BPF_DIV: if (v == 0) return BAD; a /= v; break;
                case BPF_MOD: if (v == 0) return BAD; a %= v; break;
                case BPF_AND: a &= v; break;
                case BPF_OR: a |= v; break;
                case BPF_XOR: a ^= v; break;
                case BPF_LSH: if (v >= 32) return BAD; a <<= v; break;
                case BPF_RSH: if (v >= 32) return BAD; a >>= v; break;
                case BPF_NEG: a = -a; break;
                default: return BAD;
                }
              break;
            }
          return BAD;
        }
    }
  return BAD; /* ran off the end */
}
