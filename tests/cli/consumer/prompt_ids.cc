// prompt_ids DIR TEXT: the token ids of TEXT with the checkpoint folder's own tokenizer, through
// the installed libmodel (so its SentencePiece and PCRE2 dependencies resolve in a consumer).
#include <cstdio>

#include "libmodel/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  auto tok = g2::open_tokenizer(argv[1]);
  if (!tok) {
    std::fprintf(stderr, "prompt_ids: %s\n", tok.message().c_str());
    return 2;
  }
  auto ids = (*tok)->encode(argv[2]);
  if (!ids) return 2;
  for (size_t i = 0; i < ids->size(); ++i) std::printf("%s%d", i ? "," : "", (*ids)[i]);
  std::printf("\n");
  return 0;
}
