// Grok-1's tokenizer.model through Debian's libsentencepiece (the library the Python package
// wraps: xai-org/grok-1 runners.py loads it with sentencepiece.SentencePieceProcessor).
#include <sentencepiece_processor.h>

#include <cstdlib>

#include "tokenizer.h"

namespace g2 {

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  std::string_view kind() const override { return "sentencepiece"; }
  const std::string& path() const override { return path_; }
  int64_t size() const override { return sp_.GetPieceSize(); }

  Expected<std::vector<int32_t>> encode(std::string_view text) const override {
    if (!valid_utf8(text)) return invalid(path_ + ": the text is not valid UTF-8");
    std::vector<int> ids;
    if (auto st = sp_.Encode(text, &ids); !st.ok()) return invalid(path_ + ": cannot encode: " + st.ToString());
    return std::vector<int32_t>(ids.begin(), ids.end());
  }

  std::string token_text(int32_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) return {};
    const std::string piece = sp_.IdToPiece(id);
    if (sp_.IsByte(id)) return std::string(1, char(std::strtol(piece.c_str() + 3, nullptr, 16)));  // "<0xAB>"
    if (sp_.IsControl(id) || sp_.IsUnknown(id)) return piece;
    // U+2581 LOWER ONE EIGHTH BLOCK stands for a space in SentencePiece pieces.
    std::string out;
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 2;
      } else {
        out += piece[i];
      }
    }
    return out;
  }

  Status load(const std::string& path) {
    path_ = path;
    if (auto st = sp_.Load(path); !st.ok())
      return invalid(path + ": not a SentencePiece model (" + st.ToString() + ")");
    return Status::Ok();
  }

 private:
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

Expected<std::unique_ptr<Tokenizer>> load_sentencepiece(const std::string& path) {
  auto t = std::make_unique<SentencePieceTokenizer>();
  G2_TRY(t->load(path));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace g2
