#include "daemon/command_channel.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/comm/bounded_wait.h"
#include "engine/comm/mpi_status.h"
#include "engine/util/check.h"
#include "engine/util/status_macros.h"

namespace zerod::daemon {
namespace {

// Idle ranks poll the next command with a sleep that doubles up to the longest one.
constexpr auto kFirstSleep = std::chrono::microseconds(200);
constexpr auto kLongestSleep = std::chrono::milliseconds(50);

}  // namespace

struct CommandChannel::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  std::thread::id owner;  // the rank's main thread, the only one that may call MPI
};

absl::StatusOr<std::unique_ptr<CommandChannel>> CommandChannel::Create() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    return absl::FailedPreconditionError(
        "the command channel needs MPI initialised first (comm::MpiRuntime::Init)");
  }
  std::unique_ptr<CommandChannel> channel(new CommandChannel());
  channel->impl_ = std::make_unique<Impl>();
  channel->impl_->owner = std::this_thread::get_id();
  MPI_RETURN_IF_ERROR(MPI_Comm_dup(MPI_COMM_WORLD, &channel->impl_->comm));
  MPI_RETURN_IF_ERROR(MPI_Comm_rank(channel->impl_->comm, &channel->rank_));
  MPI_RETURN_IF_ERROR(MPI_Comm_size(channel->impl_->comm, &channel->world_size_));
  return channel;
}

CommandChannel::~CommandChannel() {
  if (impl_ && impl_->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->comm);
}

void CommandChannel::CheckThread() const {
  ZEROD_CHECK(std::this_thread::get_id() == impl_->owner);
}

absl::Status CommandChannel::Send(const std::string& bytes) {
  CheckThread();
  // The length goes first on a non-blocking broadcast, because that is what the idle
  // ranks are polling; the payload follows on an ordinary one.
  int64_t size = static_cast<int64_t>(bytes.size());
  MPI_Request request;
  MPI_RETURN_IF_ERROR(MPI_Ibcast(&size, 1, MPI_INT64_T, 0, impl_->comm, &request));
  RETURN_IF_ERROR(comm::BoundedWait(&request, "command broadcast"));
  std::string copy = bytes;
  MPI_RETURN_IF_ERROR(
      MPI_Ibcast(copy.data(), static_cast<int>(size), MPI_BYTE, 0, impl_->comm, &request));
  return comm::BoundedWait(&request, "command broadcast");
}

absl::StatusOr<std::string> CommandChannel::Receive(bool bounded) {
  CheckThread();
  int64_t size = 0;
  MPI_Request request;
  MPI_RETURN_IF_ERROR(MPI_Ibcast(&size, 1, MPI_INT64_T, 0, impl_->comm, &request));
  if (bounded) RETURN_IF_ERROR(comm::BoundedWait(&request, "next command"));
  auto sleep = std::chrono::duration_cast<std::chrono::microseconds>(kFirstSleep);
  while (!bounded) {
    int done = 0;
    MPI_RETURN_IF_ERROR(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) break;
    std::this_thread::sleep_for(sleep);
    sleep = std::min<std::chrono::microseconds>(sleep * 2, kLongestSleep);
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  MPI_RETURN_IF_ERROR(
      MPI_Ibcast(bytes.data(), static_cast<int>(size), MPI_BYTE, 0, impl_->comm, &request));
  RETURN_IF_ERROR(comm::BoundedWait(&request, "command broadcast"));
  return bytes;
}

absl::StatusOr<std::vector<std::string>> CommandChannel::GatherStrings(const std::string& mine) {
  CheckThread();
  int size = static_cast<int>(mine.size());
  std::vector<int> sizes(rank_ == 0 ? world_size_ : 0);
  MPI_Request request;
  MPI_RETURN_IF_ERROR(
      MPI_Igather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, impl_->comm, &request));
  RETURN_IF_ERROR(comm::BoundedWait(&request, "result gather"));
  std::vector<int> offsets(sizes.size());
  int total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = total;
    total += sizes[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  MPI_RETURN_IF_ERROR(MPI_Igatherv(mine.data(), size, MPI_BYTE, all.data(), sizes.data(),
                                   offsets.data(), MPI_BYTE, 0, impl_->comm, &request));
  RETURN_IF_ERROR(comm::BoundedWait(&request, "result gather"));
  std::vector<std::string> out;
  for (size_t r = 0; r < sizes.size(); ++r) out.push_back(all.substr(offsets[r], sizes[r]));
  return out;
}

}  // namespace zerod::daemon
