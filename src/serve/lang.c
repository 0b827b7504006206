/* lang.c - SandboxFusion's languages: the source file, the compile and run
 * commands (as upstream's runners use them), and the program each needs. */
#include "config.h"
#include "serve.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define ARGV(...) ((const char *const[]) { __VA_ARGS__, NULL })

static const struct lang langs[] = {
  { "python", "main.py", NULL, ARGV ("python3", "main.py"), "python3", "python" },
  { "pytest", "test_main.py", NULL, ARGV ("pytest", "-q", "test_main.py"), "pytest", NULL },
  { "cpp", "main.cpp", ARGV ("g++", "-std=c++17", "main.cpp", "-o", "test", "-lpthread"), ARGV ("./test"),
    "g++", NULL },
  { "go", "main.go", ARGV ("go", "build", "-o", "out", "main.go"), ARGV ("./out"), "go", NULL },
  { "go_test", "main_test.go", NULL, ARGV ("go", "test", "-v", "main_test.go"), "go", NULL },
  { "java", "Main.java", ARGV ("javac", "Main.java"), ARGV ("java", "-ea", "Main"), "javac", NULL },
  { "nodejs", "main.js", NULL, ARGV ("node", "main.js"), "node", NULL },
  { "typescript", "main.ts", NULL, ARGV ("tsx", "main.ts"), "tsx", NULL },
  { "rust", "main.rs", ARGV ("rustc", "main.rs", "-o", "test"), ARGV ("./test"), "rustc", NULL },
  { "bash", "main.sh", NULL, ARGV ("bash", "main.sh"), "bash", NULL },
  { "php", "main.php", NULL, ARGV ("php", "main.php"), "php", NULL },
  { "lua", "main.lua", NULL, ARGV ("lua", "main.lua"), "lua", NULL },
  { "R", "main.R", NULL, ARGV ("Rscript", "main.R"), "Rscript", NULL },
  { "perl", "main.pl", NULL, ARGV ("perl", "main.pl"), "perl", NULL },
  { "ruby", "main.rb", NULL, ARGV ("ruby", "main.rb"), "ruby", NULL },
  { "julia", "main.jl", NULL, ARGV ("julia", "main.jl"), "julia", NULL },
  { "racket", "main.rkt", NULL, ARGV ("racket", "main.rkt"), "racket", NULL },
  /* SandboxFusion has these too; corral has no runner for them yet */
  { "csharp", NULL, NULL, NULL, NULL, NULL },
  { "sql", NULL, NULL, NULL, NULL, NULL },
  { "cuda", NULL, NULL, NULL, NULL, NULL },
  { "D_ut", NULL, NULL, NULL, NULL, NULL },
  { "scala", NULL, NULL, NULL, NULL, NULL },
  { "junit", NULL, NULL, NULL, NULL, NULL },
  { "kotlin_script", NULL, NULL, NULL, NULL, NULL },
  { "jest", NULL, NULL, NULL, NULL, NULL },
  { "verilog", NULL, NULL, NULL, NULL, NULL },
  { "python_gpu", NULL, NULL, NULL, NULL, NULL },
  { "lean", NULL, NULL, NULL, NULL, NULL },
  { "swift", NULL, NULL, NULL, NULL, NULL },
};

const struct lang *
serve_lang (const char *name)
{
  for (size_t i = 0; i < sizeof langs / sizeof *langs; i++)
    if (strcmp (langs[i].name, name) == 0)
      return &langs[i];
  return NULL;
}

bool
serve_lang_known (const char *name)
{
  return serve_lang (name) != NULL;
}

const char *
serve_lang_names (void)
{
  static char buf[512];
  if (buf[0] == '\0')
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++)
      {
        strncat (buf, langs[i].name, sizeof buf - strlen (buf) - 1);
        if (i + 1 < sizeof langs / sizeof *langs)
          strncat (buf, ", ", sizeof buf - strlen (buf) - 1);
      }
  return buf;
}

/* In an image, the program is looked up in the layers, top first; an entry
 * is enough (a symlink's target is inside the image, not on the host). */
bool
serve_root_has (const struct serve_root *root, const char *tool, char *full, size_t len)
{
  static const char *const dirs[] = { "usr/local/bin", "usr/bin", "bin", "usr/local/sbin", "usr/sbin" };
  for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++)
    {
      char rel[512];
      snprintf (rel, sizeof rel, "%s/%s", dirs[d], tool);
      struct stat st;
      if (root->n_lowers == 0)
        {
          char p[520];
          snprintf (p, sizeof p, "/%s", rel);
          if (stat (p, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111))
            {
              snprintf (full, len, "%s", p);
              return true;
            }
          continue;
        }
      for (size_t i = 0; i < root->n_lowers; i++)
        {
          char p[4096];
          snprintf (p, sizeof p, "%s/%s/%s", root->lowers_base, root->lowers[i], rel);
          if (fstatat (AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR (st.st_mode))
            {
              snprintf (full, len, "/%s", rel);
              return true;
            }
        }
    }
  return false;
}
