#include "libmodel/cuda/host/dist_env.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

namespace g2 {
namespace {

Expected<int> env_int(const EnvLookup& get, const char* name, int lo, int hi) {
  const char* v = get(name);
  if (!v) return not_found(std::string("environment variable ") + name + " is not set");
  int out = 0;
  const char* end = v + std::strlen(v);
  auto [p, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || p != end || out < lo || out > hi)
    return invalid(std::string("environment variable ") + name + "=\"" + v + "\": expected an integer in [" +
                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return out;
}

// Optional integer: `fallback` when unset, an error when set but malformed.
Expected<int> env_int_or(const EnvLookup& get, const char* name, int lo, int hi, int fallback) {
  if (!get(name)) return fallback;
  return env_int(get, name, lo, hi);
}

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

bool read_all(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

void set_timeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string_view launcher_name(Launcher l) {
  switch (l) {
    case Launcher::Single: return "single";
    case Launcher::Torchrun: return "torchrun";
    case Launcher::Mpi: return "mpi";
  }
  return "?";
}

Expected<DistEnv> parse_dist_env(const EnvLookup& get) {
  DistEnv env;
  constexpr int kMaxWorld = 1 << 16;
  // Each launcher's variables: world size, rank, local rank (default: the rank, one node).
  struct Vars {
    Launcher launcher;
    const char *size, *rank, *local_rank;
  };
  static constexpr Vars kLaunchers[] = {
      {Launcher::Torchrun, "WORLD_SIZE", "RANK", "LOCAL_RANK"},
      {Launcher::Mpi, "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {Launcher::Mpi, "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"},
  };
  for (const Vars& l : kLaunchers) {
    if (!get(l.rank) && !get(l.size)) continue;
    env.launcher = l.launcher;
    auto w = env_int(get, l.size, 1, kMaxWorld);
    if (!w) return w.error();
    auto r = env_int(get, l.rank, 0, *w - 1);
    if (!r) return r.error();
    env.world_size = *w;
    env.rank = *r;
    auto lr = env_int_or(get, l.local_rank, 0, kMaxWorld, env.rank);
    if (!lr) return lr.error();
    env.local_rank = *lr;
    break;
  }
  if (get("G2_DIST_TIMEOUT_S")) {
    auto t = env_int(get, "G2_DIST_TIMEOUT_S", 1, 24 * 3600);
    if (!t) return t.error();
    env.timeout_ms = *t * 1000;
  }
  if (const char* f = get("G2_NCCL_ID_FILE"); f && *f) env.id_file = f;
  if (const char* a = get("MASTER_ADDR"); a && *a) env.master_addr = a;
  // torchrun's own TCPStore already listens on MASTER_PORT on rank 0's host, so the id
  // rendezvous uses G2_NCCL_PORT, or by default the port just above MASTER_PORT.
  if (get("G2_NCCL_PORT")) {
    auto p = env_int(get, "G2_NCCL_PORT", 1, 65535);
    if (!p) return p.error();
    env.master_port = *p;
  } else if (get("MASTER_PORT")) {
    auto p = env_int(get, "MASTER_PORT", 1, 65534);
    if (!p) return p.error();
    env.master_port = *p + 1;
  }
  if (env.world_size > 1 && env.id_file.empty() && (env.master_addr.empty() || env.master_port == 0))
    return invalid(
        std::string("multi-process run (") + std::string(launcher_name(env.launcher)) + ", world size " +
        std::to_string(env.world_size) +
        "): set MASTER_ADDR and MASTER_PORT or G2_NCCL_PORT (TCP rendezvous on rank 0's host) or G2_NCCL_ID_FILE "
        "(a path on a filesystem every rank sees)");
  return env;
}

Expected<DistEnv> parse_dist_env_from_process() {
  return parse_dist_env([](const char* n) -> const char* { return std::getenv(n); });
}

Expected<TpPosition> tp_position(const DistEnv& env, int tp) {
  if (tp < 1) return invalid("tp must be >= 1, got " + std::to_string(tp));
  if (env.world_size != tp)
    return invalid("tensor parallelism " + std::to_string(tp) + " needs exactly " + std::to_string(tp) +
                   " processes (one per GPU), but the launcher (" + std::string(launcher_name(env.launcher)) +
                   ") started " + std::to_string(env.world_size));
  return TpPosition{tp, env.rank, env.local_rank};
}

Expected<std::vector<RankShard>> rank_shards(const std::vector<TensorSpec>& layout, const ModelConfig& c, int layer,
                                             int tp, int rank) {
  std::vector<RankShard> out;
  for (const TensorSpec& s : layout) {
    if (s.layer != layer) continue;
    auto r = shard_range(s, c, tp, rank);
    if (!r) return r.error();
    auto shape = shard_shape(s, c, tp, rank);
    if (!shape) return shape.error();
    out.push_back(RankShard{&s, *r, std::move(*shape)});
  }
  return out;
}

Expected<std::vector<uint8_t>> rendezvous_tcp(const std::string& addr, int port, int rank, int world_size,
                                              const std::vector<uint8_t>& payload, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = addr + ":" + std::to_string(port);
  if (rank == 0) {
    Fd s(::socket(AF_INET, SOCK_STREAM, 0));
    if (s.fd < 0) return io_error("rendezvous: socket: " + std::string(std::strerror(errno)));
    int one = 1;
    ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(uint16_t(port));
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(s.fd, 128) != 0)
      return io_error("rendezvous: cannot listen on port " + std::to_string(port) + ": " + std::strerror(errno));
    set_timeout(s.fd, timeout_ms);
    const uint32_t n = htonl(uint32_t(payload.size()));
    for (int served = 1; served < world_size; ++served) {
      Fd c(::accept(s.fd, nullptr, nullptr));
      if (c.fd < 0)
        return io_error("rendezvous: rank 0 waited for " + std::to_string(world_size - 1) + " ranks on port " +
                        std::to_string(port) + " but only " + std::to_string(served - 1) + " connected");
      set_timeout(c.fd, timeout_ms);
      if (!write_all(c.fd, reinterpret_cast<const uint8_t*>(&n), 4) || !write_all(c.fd, payload.data(), payload.size()))
        return io_error("rendezvous: sending the NCCL id failed: " + std::string(std::strerror(errno)));
    }
    return payload;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(addr.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    return io_error("rendezvous: cannot resolve MASTER_ADDR " + addr);
  std::vector<uint8_t> out;
  bool got = false;
  while (!got && Clock::now() < deadline) {
    Fd c(::socket(AF_INET, SOCK_STREAM, 0));
    if (c.fd >= 0 && ::connect(c.fd, res->ai_addr, res->ai_addrlen) == 0) {
      set_timeout(c.fd, timeout_ms);
      uint32_t n = 0;
      if (read_all(c.fd, reinterpret_cast<uint8_t*>(&n), 4)) {
        out.resize(ntohl(n));
        got = read_all(c.fd, out.data(), out.size());
      }
    }
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 0 not listening yet
  }
  ::freeaddrinfo(res);
  if (!got) return io_error("rendezvous: rank " + std::to_string(rank) + " could not get the NCCL id from " + where);
  return out;
}

Expected<std::vector<uint8_t>> rendezvous_file(const std::string& path, int rank, const std::vector<uint8_t>& payload,
                                               size_t payload_size, int timeout_ms) {
  if (rank == 0) {
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(payload.data()), std::streamsize(payload.size()));
      if (!f) return io_error("rendezvous: cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return io_error("rendezvous: cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    return payload;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    std::ifstream f(path, std::ios::binary);
    if (f) {
      std::vector<uint8_t> out(payload_size);
      f.read(reinterpret_cast<char*>(out.data()), std::streamsize(out.size()));
      if (size_t(f.gcount()) == payload_size) return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return io_error("rendezvous: rank " + std::to_string(rank) + " found no complete NCCL id in " + path +
                  " (is G2_NCCL_ID_FILE on a filesystem every rank sees, and was the old file removed?)");
}

}  // namespace g2
