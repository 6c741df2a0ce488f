// NCCL launch environment, TP rank/shard mapping and the ncclUniqueId rendezvous
// (libmodel/cuda/host/dist_env.h), all on the host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libmodel/cuda/host/dist_env.h"

namespace g2 {
namespace {

EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m = std::move(m)](const char* n) -> const char* {
    auto it = m.find(n);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}

TEST(DistEnv, NoLauncherIsASingleProcess) {
  auto e = parse_dist_env(env_of({}));
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->launcher, Launcher::Single);
  EXPECT_EQ(e->world_size, 1);
  EXPECT_EQ(e->rank, 0);
}

TEST(DistEnv, TorchrunVariables) {
  auto e = parse_dist_env(env_of({{"RANK", "11"}, {"WORLD_SIZE", "16"}, {"LOCAL_RANK", "3"},
                                  {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}}));
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->launcher, Launcher::Torchrun);
  EXPECT_EQ(e->rank, 11);
  EXPECT_EQ(e->world_size, 16);
  EXPECT_EQ(e->local_rank, 3);
  EXPECT_EQ(e->master_addr, "node0");
  EXPECT_EQ(e->master_port, 29501) << "torchrun's store holds MASTER_PORT itself";
  auto explicit_port = parse_dist_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"},
                                              {"MASTER_PORT", "29500"}, {"G2_NCCL_PORT", "31000"}}));
  ASSERT_TRUE(explicit_port.ok()) << explicit_port.message();
  EXPECT_EQ(explicit_port->master_port, 31000);
  auto only_nccl_port = parse_dist_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"},
                                               {"G2_NCCL_PORT", "31000"}}));
  EXPECT_TRUE(only_nccl_port.ok()) << only_nccl_port.message();
}

TEST(DistEnv, OpenMpiAndPmiVariables) {
  auto e = parse_dist_env(env_of({{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"G2_NCCL_ID_FILE", "/shared/id"}}));
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->launcher, Launcher::Mpi);
  EXPECT_EQ(e->rank, 5);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->id_file, "/shared/id");
  auto p = parse_dist_env(env_of({{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}));
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->rank, 2);
  EXPECT_EQ(p->local_rank, 2);  // no MPI_LOCALRANKID: single node
}

TEST(DistEnv, BadValuesNameTheVariable) {
  auto r = parse_dist_env(env_of({{"RANK", "8"}, {"WORLD_SIZE", "8"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("RANK"), std::string::npos) << r.message();
  auto w = parse_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "two"}}));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("WORLD_SIZE=\"two\""), std::string::npos) << w.message();
  auto port =
      parse_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}));
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.message().find("MASTER_PORT"), std::string::npos);
  auto missing = parse_dist_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("G2_NCCL_ID_FILE"), std::string::npos) << missing.message();
}

TEST(DistEnv, TimeoutBoundsEveryWaitAndIsValidated) {
  auto d = parse_dist_env(env_of({}));
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->timeout_ms, 300000) << "the default bound: five minutes";
  auto t = parse_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"G2_NCCL_ID_FILE", "/x"},
                                  {"G2_DIST_TIMEOUT_S", "45"}}));
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->timeout_ms, 45000);
  for (const char* bad : {"0", "-3", "soon", "100000"}) {
    auto b = parse_dist_env(env_of({{"G2_DIST_TIMEOUT_S", bad}}));
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.message().find("G2_DIST_TIMEOUT_S"), std::string::npos) << b.message();
  }
}

TEST(DistEnv, TpPositionNeedsOneProcessPerRank) {
  DistEnv e;
  e.world_size = 8;
  e.rank = 6;
  e.local_rank = 2;
  auto p = tp_position(e, 8);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tp_rank, 6);
  EXPECT_EQ(p->device, 2);
  EXPECT_FALSE(tp_position(e, 4).ok());
}

TEST(RankShards, UnionOfRanksCoversEverySplitAxisOnce) {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-2-tiny.json");
  ASSERT_TRUE(c.ok());
  const auto layout = grok2_layout(*c);
  for (int tp : {2, 4, 8}) {
    std::map<std::string, int64_t> covered;
    std::map<std::string, int64_t> next_begin;
    for (int r = 0; r < tp; ++r) {
      auto shards = rank_shards(layout, *c, 0, tp, r);
      ASSERT_TRUE(shards.ok()) << shards.message();
      for (const auto& s : *shards) {
        if (s.spec->split != Split::Axis) continue;
        EXPECT_EQ(s.range.begin, next_begin[s.spec->name])
            << s.spec->name << " rank " << r;  // contiguous, in rank order
        next_begin[s.spec->name] = s.range.end;
        covered[s.spec->name] += s.range.end - s.range.begin;
        EXPECT_EQ(s.shape[size_t(s.range.axis)], s.range.end - s.range.begin);
      }
    }
    for (const auto& [name, n] : covered)
      EXPECT_EQ(n, find_spec(layout, name)->shape[size_t(find_spec(layout, name)->split_axis)]) << name;
  }
}

TEST(RankShards, KvHeadsReplicateBeyondTheirCount) {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-2-tiny.json");
  ASSERT_TRUE(c.ok());
  const auto layout = grok2_layout(*c);
  for (int r = 0; r < 16; ++r) {
    auto shards = rank_shards(layout, *c, 0, 16, r);
    ASSERT_TRUE(shards.ok()) << shards.message();
    for (const auto& s : *shards)
      if (s.spec->role == Role::AttnK) {
        EXPECT_EQ(s.range.begin, (r / 2) * c->head_dim) << r;  // ranks 2h, 2h+1 share KV head h
        EXPECT_EQ(s.range.end - s.range.begin, c->head_dim);
      }
  }
}

TEST(Rendezvous, TcpHandsRankZerosBytesToEveryRank) {
  const std::vector<uint8_t> id = {1, 2, 3, 250, 0, 7};
  const int world = 3, port = 29000 + int(::getpid() % 2000);
  std::vector<std::vector<uint8_t>> got(world);
  std::vector<std::string> errors(world);
  std::vector<std::thread> ts;
  for (int r = world - 1; r >= 0; --r)
    ts.emplace_back([&, r] {
      auto v = rendezvous_tcp("127.0.0.1", port, r, world, r == 0 ? id : std::vector<uint8_t>{}, 10000);
      if (v.ok()) got[size_t(r)] = *v;
      else errors[size_t(r)] = v.message();
    });
  for (auto& t : ts) t.join();
  for (int r = 0; r < world; ++r) {
    EXPECT_EQ(errors[size_t(r)], "");
    EXPECT_EQ(got[size_t(r)], id) << "rank " << r;
  }
}

TEST(Rendezvous, FileHandsRankZerosBytesToEveryRank) {
  const auto path = std::filesystem::temp_directory_path() / ("g2_nccl_id_" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  const std::vector<uint8_t> id(128, 42);
  std::vector<uint8_t> got;
  std::thread late([&] {
    auto v = rendezvous_file(path.string(), 1, {}, 128, 10000);
    if (v.ok()) got = *v;
  });
  auto r0 = rendezvous_file(path.string(), 0, id, 128, 10000);
  late.join();
  ASSERT_TRUE(r0.ok()) << r0.message();
  EXPECT_EQ(got, id);
  std::filesystem::remove(path);
  auto timeout = rendezvous_file(path.string(), 1, {}, 128, 100);
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.message().find(path.string()), std::string::npos);
}

}  // namespace
}  // namespace g2
