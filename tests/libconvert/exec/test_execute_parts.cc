// Splitting one conversion over processes and nodes (README "Convert on several nodes"): N
// parts sharing a destination end byte-identical to one run, manifest included, whatever
// order they finish in and when one is rerun; their locks and state refuse what would mix
// conversions; a --ranks share holds its files and opens only as that share.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "libconvert/exec/dest_state.h"
#include "libconvert/format/grok2_tp.h"
#include "libconvert/plan/plan_split.h"
#include "tests/support/execute_fixtures.h"

namespace g2 {
namespace {

using namespace test_exec;

// Every entry of a directory (hidden ones too) with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out[e.path().filename().string()] = ss.str();
  }
  return out;
}

void expect_same_dirs(const std::string& a, const std::string& b) {
  const auto x = snapshot(a), y = snapshot(b);
  std::set<std::string> names;
  for (const auto& [n, v] : x) names.insert(n);
  for (const auto& [n, v] : y) names.insert(n);
  for (const auto& n : names) {
    ASSERT_TRUE(x.count(n)) << n << " only in " << b;
    ASSERT_TRUE(y.count(n)) << n << " only in " << a;
    EXPECT_TRUE(x.at(n) == y.at(n)) << n << " differs between " << a << " and " << b;
  }
}

struct Fixture {
  TmpDir tmp;
  std::unique_ptr<MemSource> src = grok2_source(tmp.path + "/src");
  Plan plan;
  std::vector<std::string> command{"g2convert", "src", "dst", "--tp", "4", "--layout", "rank"};
  Fixture() {
    fs::create_directories(src->root_);
    std::ofstream(src->root_ + "/tokenizer.tok.json") << "{\"tokens\": []}\n";  // copied by part 1
    TargetSpec t;
    t.tp = 4;
    t.layout = OutLayout::Rank;
    plan = *make_plan(describe(*src, Family::Grok2), t);
  }
  Expected<ExecReport> run(const std::string& dst, std::optional<PartSpec> part = std::nullopt, int threads = 1) {
    ExecOptions opt;
    opt.command = command;
    opt.part = part;
    opt.threads = threads;
    return execute_plan(plan, *src, dst, opt);
  }
};

TEST(ExecuteParts, PartsEndByteIdenticalToOneRun) {
  Fixture fx;
  const std::string one = fx.tmp.path + "/one", parts = fx.tmp.path + "/parts";
  auto r = fx.run(one);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->manifest_written);
  // in an order other than 1..N: the last to finish merges, whichever it is
  for (int i : {2, 3, 1}) {
    auto p = fx.run(parts, PartSpec{i, 3}, 2);
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->manifest_written, i == 1) << "part " << i;
    if (i != 1) {
      EXPECT_FALSE(fs::exists(parts + "/g2manifest.json"));
    }
    if (i == 2) {
      ASSERT_EQ(p->parts_waiting.size(), 2u);
      EXPECT_EQ(p->parts_waiting[0].rfind("part 1/3", 0), 0u) << p->parts_waiting[0];
    }
  }
  expect_same_dirs(one, parts);
  // a part rerun on a finished destination verifies its files and merges again
  auto again = fx.run(parts, PartSpec{2, 3});
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->files_written, 0u);
  EXPECT_TRUE(again->resumed);
  EXPECT_TRUE(again->manifest_written);
  expect_same_dirs(one, parts);
}

TEST(ExecuteParts, PartsResumeWhatAOneProcessRunLeft) {
  Fixture fx;
  const std::string one = fx.tmp.path + "/one", dst = fx.tmp.path + "/dst";
  ASSERT_TRUE(fx.run(one).ok());
  // a one-process run's journal (what a killed run leaves) listing every tensor file
  ASSERT_TRUE(fx.run(dst).ok());
  fs::rename(dst + "/g2manifest.json", dst + "/g2convert.partial.json");
  size_t written = 0;
  for (int i : {1, 2}) {
    auto p = fx.run(dst, PartSpec{i, 2});
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_TRUE(p->resumed);
    written += p->files_written;
  }
  EXPECT_EQ(written, 0u) << "the journal's files are verified and kept";
  expect_same_dirs(one, dst);  // the journal is gone with the parts' state
}

TEST(ExecuteParts, MergeChecksTheFilesAndMergeManifestFinishes) {
  Fixture fx;
  const std::string one = fx.tmp.path + "/one", dst = fx.tmp.path + "/parts";
  ASSERT_TRUE(fx.run(one).ok());
  auto split = split_parts(fx.plan, 2);
  ASSERT_TRUE(split.ok());
  const std::string victim = fx.plan.files[(*split)[0].files.front()].path;  // a file of part 1
  ASSERT_TRUE(fx.run(dst, PartSpec{1, 2}).ok());
  auto early = merge_manifest(dst);
  ASSERT_TRUE(early.ok()) << early.message();
  EXPECT_FALSE(early->merged);
  ASSERT_EQ(early->waiting.size(), 1u);
  EXPECT_EQ(early->waiting[0], "part 2/2 (no journal: not started yet)");
  // part 1's file disappears before part 2 finishes: part 2 is written, the manifest is not
  fs::remove(dst + "/" + victim);
  auto p2 = fx.run(dst, PartSpec{2, 2});
  ASSERT_FALSE(p2.ok());
  EXPECT_NE(p2.message().find("part 2/2 is written, but g2manifest.json is not: " + dst + "/" + victim +
                              ": missing, but g2convert.part-1-of-2.json records"),
            std::string::npos)
      << p2.message();
  EXPECT_NE(p2.message().find("rerun part 1/2"), std::string::npos) << p2.message();
  EXPECT_FALSE(fs::exists(dst + "/g2manifest.json"));
  auto refused = merge_manifest(dst);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find(victim + ": missing"), std::string::npos) << refused.message();
  // the file comes back (the same bytes): --merge-manifest writes what the last part would have
  fs::copy_file(one + "/" + victim, dst + "/" + victim);
  auto merged = merge_manifest(dst);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_TRUE(merged->merged);
  EXPECT_EQ(merged->count, 2);
  expect_same_dirs(one, dst);
  auto twice = merge_manifest(dst);
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->already_merged);
  auto nothing = merge_manifest(fx.tmp.path + "/src");
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.message().find("nothing to merge"), std::string::npos) << nothing.message();
}

// Holds a lock file the way a running g2convert does.
struct HeldLock {
  int fd = -1;
  HeldLock(const std::string& path, int op, const std::string& text) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::flock(fd, op | LOCK_NB), 0);
    EXPECT_EQ(::write(fd, text.data(), text.size()), ssize_t(text.size()));
  }
  ~HeldLock() { ::close(fd); }
};

TEST(ExecuteParts, LocksAllowDifferentPartsAndRefuseTheSamePartTwice) {
  Fixture fx;
  const std::string one = fx.tmp.path + "/one", dst = fx.tmp.path + "/parts";
  ASSERT_TRUE(fx.run(one).ok());
  fs::create_directories(dst);
  {
    // a live writer of part 2/3 (it shares the destination lock and holds its part's lock)
    HeldLock dir(dst + "/.g2convert.lock", LOCK_SH, "parts\n");
    HeldLock p2(dst + "/.g2convert.part-2-of-3.lock", LOCK_EX, std::to_string(getpid()) + "\n");
    auto same = fx.run(dst, PartSpec{2, 3});
    ASSERT_FALSE(same.ok());
    EXPECT_NE(same.message().find(dst + ": part 2/3 is being written by another g2convert (pid " +
                                  std::to_string(getpid()) + ", lock " + dst + "/.g2convert.part-2-of-3.lock)"),
              std::string::npos)
        << same.message();
    auto other = fx.run(dst, PartSpec{1, 3});  // a different part runs alongside
    ASSERT_TRUE(other.ok()) << other.message();
    EXPECT_FALSE(other->manifest_written);
    auto whole = fx.run(dst);  // a one-process run waits for no one: refused while parts run
    ASSERT_FALSE(whole.ok());
    EXPECT_NE(whole.message().find("being written by another g2convert (--part runs"), std::string::npos)
        << whole.message();
  }
  // the parts of one conversion all use one N
  auto mixed = fx.run(dst, PartSpec{1, 2});
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(
      mixed.message().find("is being converted in 3 parts (g2convert.part-1-of-3.json): run every part as --part I/3"),
      std::string::npos)
      << mixed.message();
  ExecOptions force;
  force.force = true;
  force.part = PartSpec{1, 3};
  auto forced = execute_plan(fx.plan, *fx.src, dst, force);
  ASSERT_FALSE(forced.ok());
  EXPECT_NE(forced.message().find("--force does not combine with --part"), std::string::npos) << forced.message();
  // a different conversion is refused to a part as to a one-process run
  TargetSpec t2;
  t2.tp = 2;
  t2.layout = OutLayout::Rank;
  ExecOptions p1;
  p1.part = PartSpec{1, 3};
  auto foreign = execute_plan(*make_plan(describe(*fx.src, Family::Grok2), t2), *fx.src, dst, p1);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.message().find("holds a different conversion (finished)"), std::string::npos) << foreign.message();
  // one run without --part finishes what the parts started, and clears their state
  auto finish = fx.run(dst);
  ASSERT_TRUE(finish.ok()) << finish.message();
  EXPECT_TRUE(finish->resumed);
  EXPECT_GT(finish->files_skipped, 0u);
  expect_same_dirs(one, dst);
}

TEST(ExecuteParts, RanksShareHoldsItsFilesAndOpensOnlyAsThatShare) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path + "/src");
  fs::create_directories(src->root_);
  TargetSpec t;
  t.tp = 16;
  t.layout = OutLayout::Rank;
  const Plan full = *make_plan(describe(*src, Family::Grok2), t);
  ExecOptions opt;
  opt.threads = 2;
  ASSERT_TRUE(execute_plan(full, *src, tmp.path + "/full", opt).ok());
  const auto share = select_ranks(full, 8, 15);
  ASSERT_TRUE(share.ok());
  const std::string node1 = tmp.path + "/node1";
  auto r = execute_plan(*share, *src, node1, opt);
  ASSERT_TRUE(r.ok()) << r.message();
  auto m = read_manifest(node1 + "/g2manifest.json");
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_TRUE(m->ranks.has_value());
  EXPECT_EQ(*m->ranks, (RankSubset{8, 15, 16}));
  EXPECT_TRUE(manifest_verifies(node1, *m));
  // every file of the share is the whole run's file, byte for byte
  const auto whole = snapshot(tmp.path + "/full");
  size_t rank_files = 0;
  for (const auto& [name, bytes] : snapshot(node1)) {
    if (name == "g2manifest.json") continue;
    ASSERT_TRUE(whole.count(name)) << name;
    EXPECT_TRUE(whole.at(name) == bytes) << name;
    if (auto p = parse_tp_file_name(name); p && p->rank >= 0) {
      ++rank_files;
      EXPECT_TRUE(p->rank >= 8 && p->rank <= 15) << name;
    }
  }
  EXPECT_GT(rank_files, 0u);
  // opened as a model it names the missing ranks; as the share it lists each rank's slices
  auto as_model = open_checkpoint(node1);
  ASSERT_FALSE(as_model.ok());
  EXPECT_NE(as_model.message().find("holds only ranks 8-15 of tp 16; ranks 0-7 are missing"), std::string::npos)
      << as_model.message();
  auto as_share = open_checkpoint(node1, "", RankSubset{8, 15, 16});
  ASSERT_TRUE(as_share.ok()) << as_share.message();
  size_t q_slices = 0;
  for (const auto& st : (*as_share)->tensors())
    if (st.name == "model.layers.0.self_attn.q_proj.weight") {
      ++q_slices;
      EXPECT_EQ(st.shape, (Shape{src->config_.q_size() / 16, src->config_.hidden_size}));
    }
  EXPECT_EQ(q_slices, 8u);
  auto wrong = open_checkpoint(node1, "", RankSubset{0, 7, 16});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("is rank 8, outside this share (ranks 0-7 of 16)"), std::string::npos)
      << wrong.message();
}

}  // namespace
}  // namespace g2
