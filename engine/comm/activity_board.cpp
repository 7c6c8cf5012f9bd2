#include "engine/comm/activity_board.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/comm/bounded_wait.h"
#include "engine/comm/mpi_status.h"
#include "engine/util/status_macros.h"

namespace zerod::comm::board {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

Slot* slots = nullptr;  // world_size entries, index = world rank
int world_size = 0;
int my_rank = 0;
int local_rank = 0;
bool remote_hosts = false;  // other hosts exist, so remote slots come by UDP
uint64_t job_key = 0;

// A slot on the wire: ages (ns before sending; -1 for "never") instead of clock values,
// as hosts' steady clocks differ.
struct Wire {
  uint64_t key;
  int64_t world_rank, entered, idle;
  int64_t entered_age, left_age, beat_age, alive_age, progress_age, reported_age;
  char what[24];
  char doing[48];
  char host[48];
};

int64_t Age(int64_t now, int64_t at) { return at == 0 ? -1 : now - at; }
int64_t At(int64_t now, int64_t age) { return age < 0 ? 0 : now - age; }

void CopyString(char* to, size_t size, const char* from) {
  std::snprintf(to, size, "%s", from);
}

std::string Read(const char* s, size_t size) { return std::string(s, strnlen(s, size)); }

Wire Pack(const Slot& s) {
  const int64_t now = NowNs();
  Wire w{};
  w.key = job_key;
  w.world_rank = s.world_rank.load();
  w.entered = s.entered.load();
  w.idle = s.idle.load();
  w.entered_age = Age(now, s.entered_ns.load());
  w.left_age = Age(now, s.left_ns.load());
  w.beat_age = Age(now, s.beat_ns.load());
  w.alive_age = Age(now, s.alive_ns.load());
  w.progress_age = Age(now, s.progress_ns.load());
  w.reported_age = Age(now, s.reported_ns.load());
  std::memcpy(w.what, s.what, sizeof(w.what));
  std::memcpy(w.doing, s.doing, sizeof(w.doing));
  std::memcpy(w.host, s.host, sizeof(w.host));
  return w;
}

void Unpack(const Wire& w, Slot& s) {
  const int64_t now = NowNs();
  s.entered.store(w.entered);
  s.idle.store(w.idle);
  s.entered_ns.store(At(now, w.entered_age));
  s.left_ns.store(At(now, w.left_age));
  s.beat_ns.store(At(now, w.beat_age));
  s.alive_ns.store(At(now, w.alive_age));
  s.progress_ns.store(At(now, w.progress_age));
  s.reported_ns.store(At(now, w.reported_age));
  CopyString(s.what, sizeof(s.what), Read(w.what, sizeof(w.what)).c_str());
  CopyString(s.doing, sizeof(s.doing), Read(w.doing, sizeof(w.doing)).c_str());
  CopyString(s.host, sizeof(s.host), Read(w.host, sizeof(w.host)).c_str());
  s.world_rank.store(w.world_rank);
}

// The address other hosts reach this one's board at: ZEROD_BOARD_ADDR, else the host name's
// first IPv4 address that is not loopback, else the first such interface, else loopback
// (then only this host is seen).
std::string BoardAddress(const std::string& host) {
  if (const char* a = std::getenv("ZEROD_BOARD_ADDR"); a != nullptr && *a != '\0') return a;
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  std::string out;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0) {
    for (addrinfo* a = found; a != nullptr && out.empty(); a = a->ai_next) {
      const auto* in = reinterpret_cast<sockaddr_in*>(a->ai_addr);
      if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) out = inet_ntoa(in->sin_addr);
    }
    freeaddrinfo(found);
  }
  ifaddrs* ifs = nullptr;
  if (out.empty() && getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr && out.empty(); i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      const auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) out = inet_ntoa(in->sin_addr);
    }
    freeifaddrs(ifs);
  }
  return out.empty() ? "127.0.0.1" : out;
}

// Maps the host's segment (world_size slots), or falls back to a private array (the board
// then shows this rank and the remote ones only).
absl::Status MapSegment(MPI_Comm node, int node_rank) {
  int64_t owner = getpid();
  MPI_RETURN_IF_ERROR(MPI_Bcast(&owner, 1, MPI_INT64_T, 0, node));
  const std::string name = absl::StrCat("/zerod-board-", owner);
  const size_t bytes = sizeof(Slot) * static_cast<size_t>(world_size);
  void* mapped = MAP_FAILED;
  if (node_rank == 0) {
    const int fd = shm_open(name.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
      mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (fd >= 0) close(fd);
    if (mapped != MAP_FAILED) new (mapped) Slot[world_size];
  }
  MPI_RETURN_IF_ERROR(MPI_Barrier(node));
  if (node_rank != 0) {
    const int fd = shm_open(name.c_str(), O_RDWR, 0600);
    if (fd >= 0) {
      mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
    }
  }
  MPI_RETURN_IF_ERROR(MPI_Barrier(node));
  if (node_rank == 0) shm_unlink(name.c_str());  // the mappings stay; nothing is left behind
  slots = mapped == MAP_FAILED ? new Slot[world_size] : static_cast<Slot*>(mapped);
  return absl::OkStatus();
}

// Where each host's board listens, learned by every rank: (address, port) of each host's
// local rank 0, and whether it is this rank's own host.
struct Peer {
  sockaddr_in addr{};
  bool own_host = false;
};

absl::Status ExchangeAddresses(MPI_Comm world, MPI_Comm node, int node_rank,
                               std::vector<Peer>* peers, int* receive_fd) {
  struct Record {
    char ip[46];
    int32_t port;   // 0: not a host's local rank 0
    int32_t group;  // the world rank of this rank's host's local rank 0
  };
  Record mine{};
  int leader = my_rank;
  MPI_RETURN_IF_ERROR(MPI_Bcast(&leader, 1, MPI_INT, 0, node));
  mine.group = leader;
  if (node_rank == 0) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof(any);
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&any), &len) == 0) {
      *receive_fd = fd;
      mine.port = ntohs(any.sin_port);
      CopyString(mine.ip, sizeof(mine.ip), BoardAddress(Read(slots[my_rank].host, 48)).c_str());
    } else if (fd >= 0) {
      close(fd);
    }
  }
  std::vector<Record> all(static_cast<size_t>(world_size));
  MPI_Request request;
  MPI_RETURN_IF_ERROR(MPI_Iallgather(&mine, sizeof(Record), MPI_BYTE, all.data(), sizeof(Record),
                                     MPI_BYTE, world, &request));
  RETURN_IF_ERROR(BoundedWait(&request, "board addresses"));
  for (int r = 0; r < world_size; ++r) {
    if (all[r].group != r) continue;  // not a host's local rank 0
    Peer p;
    p.own_host = r == leader;
    if (!p.own_host) remote_hosts = true;
    if (all[r].port == 0) continue;  // that host has no board socket
    p.addr.sin_family = AF_INET;
    p.addr.sin_port = htons(static_cast<uint16_t>(all[r].port));
    inet_pton(AF_INET, all[r].ip, &p.addr.sin_addr);
    peers->push_back(p);
  }
  return absl::OkStatus();
}

// This host's receiver (local rank 0): remote ranks' datagrams into their slots.
void Receive(int fd) {
  Wire w;
  while (true) {
    const ssize_t n = recv(fd, &w, sizeof(w), 0);
    if (n != static_cast<ssize_t>(sizeof(w)) || w.key != job_key) continue;
    if (w.world_rank < 0 || w.world_rank >= world_size || w.world_rank == my_rank) continue;
    Unpack(w, slots[w.world_rank]);
  }
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Slot* Mine() { return slots == nullptr ? nullptr : &slots[my_rank]; }
Slot* Slots() { return slots; }
int WorldSize() { return world_size; }
int LocalRank() { return local_rank; }

std::string RankName(int rank) {
  if (slots == nullptr || rank < 0 || rank >= world_size) return absl::StrCat("rank ", rank);
  const std::string host = Read(slots[rank].host, sizeof(slots[rank].host));
  return host.empty() ? absl::StrCat("rank ", rank) : absl::StrCat("rank ", rank, " (host ", host, ")");
}

absl::Status Init(MPI_Comm world) {
  MPI_Comm_rank(world, &my_rank);
  MPI_Comm_size(world, &world_size);
  MPI_Comm node;
  MPI_RETURN_IF_ERROR(
      MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, my_rank, MPI_INFO_NULL, &node));
  MPI_Comm_rank(node, &local_rank);
  if (auto s = MapSegment(node, local_rank); !s.ok()) return s;
  Slot& me = slots[my_rank];
  char host[64] = {};
  gethostname(host, sizeof(host) - 1);
  CopyString(me.host, sizeof(me.host), host);
  me.alive_ns.store(NowNs());
  me.progress_ns.store(NowNs());
  me.world_rank.store(my_rank);

  // The job's key, so that only this job's datagrams are read.
  if (my_rank == 0) job_key = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
  MPI_RETURN_IF_ERROR(MPI_Bcast(&job_key, 1, MPI_UINT64_T, 0, world));
  std::vector<Peer> peers;
  int receive_fd = -1;
  absl::Status exchanged = ExchangeAddresses(world, node, local_rank, &peers, &receive_fd);
  MPI_Comm_free(&node);
  if (!exchanged.ok()) return exchanged;
  std::vector<sockaddr_in> remote;
  for (const Peer& p : peers) {
    if (!p.own_host) remote.push_back(p.addr);
  }
  if (receive_fd >= 0) {
    if (remote_hosts) {
      std::thread(Receive, receive_fd).detach();
    } else {
      close(receive_fd);
    }
  }
  const int send_fd = remote.empty() ? -1 : socket(AF_INET, SOCK_DGRAM, 0);
  // The heartbeat of the process itself, so a rank stopped outside any collective (SIGSTOP,
  // a dead process) is told from one that is merely computing; it carries this rank's slot
  // to the other hosts.
  std::thread([&me, send_fd, remote] {
    while (true) {
      me.alive_ns.store(NowNs(), std::memory_order_relaxed);
      if (send_fd >= 0) {
        const Wire w = Pack(me);
        for (const sockaddr_in& to : remote) {
          sendto(send_fd, &w, sizeof(w), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
                 sizeof(to));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }).detach();
  return absl::OkStatus();
}

std::string DescribeOthers(int64_t n) {
  if (slots == nullptr) return "the other ranks cannot be named here";
  std::vector<std::string> found;
  std::vector<std::string> waiting;  // alive and waiting in a collective themselves
  int unseen = 0;
  const int64_t now = NowNs();
  auto secs = [now](int64_t at) { return static_cast<double>(now - at) / kSecond; };
  for (int r = 0; r < world_size; ++r) {
    if (r == my_rank) continue;
    const Slot& s = slots[r];
    if (s.world_rank.load() < 0) {
      ++unseen;
      continue;
    }
    const int64_t left = s.left_ns.load();
    const std::string what = Read(s.what, sizeof(s.what));
    const std::string doing = Read(s.doing, sizeof(s.doing));
    const std::string last = absl::StrFormat(
        "its last collective: %s #%d, %s; its main thread: %s, %.1f s ago",
        what.empty() ? "none" : what, s.entered.load(),
        left == 0 ? "still waiting in it" : absl::StrFormat("left %.1f s ago", secs(left)),
        doing.empty() ? "no mark" : doing, secs(s.progress_ns.load()));
    const std::string host = absl::StrCat("on host ", Read(s.host, sizeof(s.host)));
    if (secs(s.alive_ns.load()) > 2.0) {
      // The whole process is stopped (SIGSTOP) or gone, or its host is silent.
      found.push_back(absl::StrFormat("rank %d is not running (no heartbeat for %.1f s, %s; %s)", r,
                                      secs(s.alive_ns.load()), host, last));
    } else if (n > 0 && s.entered.load() < n && left == 0 && secs(s.beat_ns.load()) <= 2.0) {
      // Waiting, polling, in an earlier collective (a rank ahead issued more of them, as
      // prefetches do): held up too, not the one to blame.
      waiting.push_back(absl::StrCat(r));
    } else if (n > 0 && s.entered.load() < n) {
      found.push_back(absl::StrFormat("rank %d did not arrive (%s; %s)", r, host, last));
    } else if (n > 0 && left == 0 && secs(s.beat_ns.load()) > 2.0) {
      // In a collective, but its waiting thread stopped polling: a collective of several
      // rounds needs every rank to drive its progress.
      found.push_back(absl::StrFormat("rank %d stopped responding inside %s #%d (%s)", r, what,
                                      s.entered.load(), host));
    } else if (n == 0 && s.idle.load() == 0 && left != 0 && secs(s.progress_ns.load()) > 2.0) {
      found.push_back(absl::StrFormat("rank %d is running outside any collective (%s; %s)", r,
                                      host, last));
    }
  }
  if (unseen > 0) {
    found.push_back(absl::StrCat(unseen, " rank(s) of other hosts not on the board (no word "
                                         "from their hosts)"));
  }
  if (!waiting.empty()) {
    found.push_back(absl::StrCat(waiting.size() == 1 ? "rank " : "ranks ",
                                 absl::StrJoin(waiting, ", "), " waiting in collectives too"));
  }
  if (found.empty()) {
    return n > 0 ? "every other rank arrived and is alive" : "every other rank is alive";
  }
  return absl::StrJoin(found, "; ");
}

bool ClaimStallReport() {
  static std::atomic<bool> claimed{false};
  if (claimed.exchange(true)) return false;  // this process's other finder speaks
  Slot* me = Mine();
  if (me == nullptr || world_size <= 1) return true;
  const int64_t mine = NowNs();
  me->reported_ns.store(mine);
  // Long enough for five heartbeats to carry every other finder's mark here.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int r = 0; r < world_size; ++r) {
    if (r == my_rank) continue;
    const int64_t theirs = slots[r].reported_ns.load();
    if (theirs == 0) continue;
    if (theirs < mine - kSecond / 2) return false;
    if (theirs <= mine + kSecond / 2 && r < my_rank) return false;
  }
  return true;
}

}  // namespace zerod::comm::board
