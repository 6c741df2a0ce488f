#include "prompt.h"

#include <fstream>
#include <iterator>

#include "libmodel/activations.h"
#include "libmodel/tokenizer/next_tokens.h"

namespace g2 {

SideTokenizer report_tokenizer(const std::string& dir, int64_t vocab_rows) {
  SideTokenizer s;
  auto t = checkpoint_tokenizer(dir, vocab_rows);
  if (t) s.tok = std::move(*t);
  else s.why = t.message();
  return s;
}

Expected<std::vector<int32_t>> encode_prompt(const std::string& text, const std::string& file,
                                             const std::string& a_dir, int64_t a_rows, SideTokenizer* a,
                                             std::string* prompt) {
  *prompt = text;
  if (!file.empty()) {
    std::ifstream f(file, std::ios::binary);
    if (!f) return io_error("--prompt-file " + file + ": cannot open");
    prompt->assign(std::istreambuf_iterator<char>(f), {});
  }
  auto t = checkpoint_tokenizer(a_dir, a_rows);
  if (!t) return Error{t.error().kind, "--prompt: " + t.message()};
  a->tok = std::move(*t);
  auto ids = a->tok->encode(*prompt);
  if (!ids) return ids;
  if (ids->empty()) return invalid("--prompt: the text encodes to no tokens");
  return ids;
}

Status check_prompt_b(const std::string& prompt, const std::vector<int32_t>& ids, const SideTokenizer& a,
                      const SideTokenizer& b, const std::string& b_dir) {
  if (!b.tok) return Status::Ok();  // B has none (or an unusable one): A's decodes both sides
  auto other = b.tok->encode(prompt);
  if (!other) return Error{other.error().kind, "--prompt: " + other.message()};
  if (*other != ids)
    return invalid("--prompt: A's " + a.tok->path() + " and B's " + b.tok->path() + " give different ids (" +
                   tokens_to_string(ids) + " vs " + tokens_to_string(*other) + "): " + b_dir +
                   " does not use A's tokenizer; pass --tokens to compare ids anyway");
  return Status::Ok();
}

}  // namespace g2
