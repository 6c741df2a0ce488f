// Digests: known answer, independence from chunking and layout, non-finite counting.
#include <gtest/gtest.h>

#include "libconvert/format/digest.h"
#include "libconvert/format/manifest.h"
#include "tests/support/tiny_model.h"

namespace g2 {
namespace {

TEST(Digest, KnownAnswerForEmptyInput) {
  test::TempDir dir;
  test::write_bytes(dir / "empty", "");
  uint64_t size = 7;
  auto d = hash_file(dir / "empty", &size);  // the one whole-file hash (manifest.h)
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(*d, "99aa06d3014798d86001c324468d497f");  // XXH3-128, seed 0, of ""
  auto missing = hash_file(dir / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope: cannot open"), std::string::npos);
}

TEST(Digest, SameAcrossChunkSizesAndLayouts) {
  const ModelConfig c = test::tiny_config();
  const auto ts = test::tiny_tensors(c);
  test::TempDir a, b;
  test::write_hf_set(a.str(), ts, 0, test::tiny_config_json());
  test::write_tp_set(b.str(), ts, c, 4, TpLayoutKind::Rank, test::tiny_config_json());
  auto sa = open_checkpoint(a.str()), sb = open_checkpoint(b.str());
  ASSERT_TRUE(sa.ok() && sb.ok());
  std::vector<NamedDigest> da, db;
  for (const auto& t : (*sa)->tensors()) {
    auto whole = tensor_digest(**sa, t);
    auto rows = tensor_digest(**sa, t, {}, 1);  // one row per chunk
    const SourceTensor* other = (*sb)->find(t.name);
    ASSERT_NE(other, nullptr);
    auto sharded = tensor_digest(**sb, *other, {}, 100);
    ASSERT_TRUE(whole.ok() && rows.ok() && sharded.ok());
    EXPECT_EQ(*whole, *rows) << t.name;
    EXPECT_EQ(*whole, *sharded) << t.name;
    da.push_back({&t, *whole});
    db.insert(db.begin(), {other, *sharded});  // reversed order: the model digest sorts by name
  }
  EXPECT_EQ(model_digest(da), model_digest(db));
  da.pop_back();
  EXPECT_NE(model_digest(da), model_digest(db));
}

TEST(Digest, CountsNonFinite) {
  NonFinite n;
  const uint16_t bf[] = {0x7fc0, 0x7f80, 0xff80, 0x3f80};
  count_nonfinite(DType::BF16, {reinterpret_cast<const uint8_t*>(bf), sizeof bf}, n);
  EXPECT_EQ(n.nan, 1u);
  EXPECT_EQ(n.inf, 2u);
  NonFinite e;
  const uint8_t e4[] = {0x7f, 0xff, 0x7e, 0x00};  // e4m3fn: NaN only, no infinities
  count_nonfinite(DType::F8_E4M3, {e4, sizeof e4}, e);
  EXPECT_EQ(e.nan, 2u);
  EXPECT_EQ(e.inf, 0u);
  NonFinite i;
  count_nonfinite(DType::I8, {e4, sizeof e4}, i);
  EXPECT_FALSE(i.any());
}

}  // namespace
}  // namespace g2
