// Manifest verification (libconvert/format/manifest.h): what g2inspect --verify reports, from files.
#include <gtest/gtest.h>

#include <fstream>

#include "libconvert/format/manifest.h"
#include "tests/support/tmp_dir.h"

namespace g2 {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

TEST(Manifest, VerifyReportsEachKindOfMismatch) {
  test_exec::TmpDir d;
  write(d.path + "/a", "alpha");
  write(d.path + "/b", "beta");
  write(d.path + "/c", "gamma");
  write(d.path + "/unlisted", "x");
  const std::string ha = *hash_file(d.path + "/a"), hb = *hash_file(d.path + "/b");
  const std::vector<ManifestFile> files{{"a", 5, ha}, {"b", 5, hb}, {"c", 5, ha}, {"gone", 1, ha}};
  auto c = verify_manifest(d.path, files, {d.path + "/a", d.path + "/unlisted"});
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_TRUE(c->present);
  EXPECT_EQ(c->checked, 4u);
  ASSERT_EQ(c->problems.size(), 4u);
  EXPECT_EQ(c->problems[0].path, "b");
  EXPECT_EQ(c->problems[0].problem, "size 4 != 5 in the manifest");
  EXPECT_EQ(c->problems[1].path, "c");
  EXPECT_EQ(c->problems[1].problem.rfind("xxh3_128 ", 0), 0u);
  EXPECT_EQ(c->problems[2].problem, "missing");
  EXPECT_EQ(c->problems[3].path, "unlisted");
  EXPECT_EQ(c->problems[3].problem, "not listed in g2manifest.json");
  EXPECT_TRUE(verify_manifest(d.path, {{"a", 5, ha}}, {d.path + "/a"})->problems.empty());
}

TEST(Manifest, CheckReadsTheFilesListOnly) {
  test_exec::TmpDir d;
  auto none = check_manifest(d.path, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->present);
  write(d.path + "/a", "alpha");
  // Another tool's manifest: only "files" is needed to verify.
  write(d.path + "/g2manifest.json",
        R"({"files": [{"path": "a", "bytes": 5, "xxh3_128": ")" + *hash_file(d.path + "/a") + R"("}]})");
  auto ok = check_manifest(d.path, {d.path + "/a"});
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_TRUE(ok->present && ok->problems.empty() && ok->checked == 1);
  EXPECT_FALSE(read_manifest(d.path + "/g2manifest.json").ok());  // not a full g2convert manifest
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"files": 3)", "not a g2 manifest"},
           {R"({"files": [{"path": "a"}]})", "every files[] entry needs"},
           {R"({"files": [{"path": "../a", "bytes": 1, "xxh3_128": "0"}]})", "is not inside the directory"},
           {R"({"files": [{"path": "/etc/passwd", "bytes": 1, "xxh3_128": "0"}]})", "is not inside the directory"}}) {
    write(d.path + "/g2manifest.json", text);
    auto bad = check_manifest(d.path, {});
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.message().find(want), std::string::npos) << bad.message();
  }
}

TEST(Manifest, RoundTripThroughJson) {
  Manifest m;
  m.command = {"g2convert", "a", "b"};
  m.source_root = "/src";
  m.source_fingerprint = "f";
  m.plan = "p";
  m.ranks = RankSubset{8, 15, 16};
  m.files = {{"x.safetensors", 12, std::string(32, 'a')}};
  auto back = parse_manifest(manifest_to_json(m), "m.json");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->command, m.command);
  EXPECT_EQ(back->ranks, m.ranks);
  EXPECT_EQ(manifest_to_json(*back), manifest_to_json(m));
  auto files = parse_manifest_files(manifest_to_json(m), "m.json");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ((*files)[0].path, "x.safetensors");
}

}  // namespace
}  // namespace g2
