#include "engine/comm/communicator.h"

#include <cstdint>
#include <vector>

#include "engine/util/status_macros.h"

namespace zerod::comm {

absl::Status AgreeOnStatus(Communicator& comm, const absl::Status& local) {
  // Lowest failing rank wins: reduce (world - rank) with max, 0 meaning "ok".
  int64_t mine = local.ok() ? 0 : comm.world_size() - comm.rank();
  RETURN_IF_ERROR(comm.AllReduce(&mine, 1, DType::kInt64, ReduceOp::kMax));
  if (mine == 0) return absl::OkStatus();
  const int root = comm.world_size() - static_cast<int>(mine);

  // The failing root broadcasts its code and message so every rank reports the same.
  int64_t header[2] = {0, 0};
  std::string message;
  if (comm.rank() == root) {
    message = std::string(local.message());
    header[0] = static_cast<int64_t>(local.code());
    header[1] = static_cast<int64_t>(message.size());
  }
  RETURN_IF_ERROR(comm.Broadcast(header, sizeof(header), root));
  message.resize(static_cast<size_t>(header[1]));
  if (header[1] > 0) RETURN_IF_ERROR(comm.Broadcast(message.data(), message.size(), root));
  return absl::Status(static_cast<absl::StatusCode>(header[0]), message);
}

}  // namespace zerod::comm
