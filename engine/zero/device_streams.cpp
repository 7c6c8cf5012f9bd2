#include "engine/zero/device_streams.h"

#include <utility>

#include "engine/util/check.h"

#ifdef ZEROD_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#endif

namespace zerod::zero {

#ifdef ZEROD_CUDA
struct DeviceStreams::Impl {
  c10::cuda::CUDAStream copy_in;
  c10::cuda::CUDAStream copy_out;
  c10::cuda::CUDAStream update;
  c10::cuda::CUDAStream device_update;
  c10::cuda::CUDAStream& Get(SideStream which) {
    switch (which) {
      case SideStream::kCopyIn:
        return copy_in;
      case SideStream::kCopyOut:
        return copy_out;
      case SideStream::kDeviceUpdate:
        return device_update;
      default:
        return update;
    }
  }
};

struct DeviceStreams::Scope::State {
  explicit State(c10::cuda::CUDAStream stream) : guard(stream) {}
  c10::cuda::CUDAStreamGuard guard;
};

DeviceStreams::DeviceStreams(torch::Device device) : device_(device) {
  if (!device.is_cuda()) return;
  const auto index = device.index();
  impl_ = std::make_unique<Impl>(
      Impl{c10::cuda::getStreamFromPool(false, index), c10::cuda::getStreamFromPool(false, index),
           c10::cuda::getStreamFromPool(false, index), c10::cuda::getStreamFromPool(false, index)});
}

DeviceStreams::Scope DeviceStreams::Enter(SideStream which) {
  if (!cuda()) return Scope(nullptr);
  c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device_.index());
  c10::cuda::CUDAStream side = impl_->Get(which);
  cudaEvent_t ready;
  cudaEventCreateWithFlags(&ready, cudaEventDisableTiming);
  cudaEventRecord(ready, current.stream());
  cudaStreamWaitEvent(side.stream(), ready, 0);
  cudaEventDestroy(ready);
  return Scope(std::make_unique<Scope::State>(side));
}

namespace {

void* RecordEvent(torch::Device device, bool timed) {
  cudaEvent_t e;
  cudaEventCreateWithFlags(&e, timed ? cudaEventDefault : cudaEventDisableTiming);
  cudaEventRecord(e, c10::cuda::getCurrentCUDAStream(device.index()).stream());
  return e;
}

}  // namespace

DeviceStreams::Marker DeviceStreams::Mark() {
  Marker m;
  if (cuda()) m.event_ = RecordEvent(device_, /*timed=*/false);
  return m;
}

DeviceStreams::Marker DeviceStreams::MarkTimed() {
  Marker m;
  if (cuda()) m.event_ = RecordEvent(device_, /*timed=*/true);
  return m;
}

void DeviceStreams::Marker::HostWait() {
  if (event_ != nullptr) cudaEventSynchronize(static_cast<cudaEvent_t>(event_));
}

void DeviceStreams::Marker::StreamWait() {
  if (event_ == nullptr) return;
  cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream().stream(), static_cast<cudaEvent_t>(event_),
                      0);
}

bool DeviceStreams::Marker::Done() {
  return event_ == nullptr || cudaEventQuery(static_cast<cudaEvent_t>(event_)) == cudaSuccess;
}

double DeviceStreams::Marker::Elapsed(const Marker& start, const Marker& end) {
  if (start.event_ == nullptr || end.event_ == nullptr) return 0.0;
  float ms = 0.f;
  if (cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.event_),
                           static_cast<cudaEvent_t>(end.event_)) != cudaSuccess) {
    cudaGetLastError();  // clear: an untimed or unfinished event is not an error here
    return 0.0;
  }
  return ms / 1e3;
}

DeviceStreams::Marker::~Marker() {
  if (event_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

void DeviceStreams::KeepAliveOn(const torch::Tensor& t, SideStream which) {
  if (!cuda() || !t.defined() || !t.is_cuda()) return;
  c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), impl_->Get(which));
}

int64_t DeviceStreams::allocated_bytes() const {
  if (!cuda()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index())
      .allocated_bytes[0]
      .current;
}
int64_t DeviceStreams::reserved_bytes() const {
  if (!cuda()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index()).reserved_bytes[0].current;
}
int64_t DeviceStreams::peak_allocated_bytes() const {
  if (!cuda()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index()).allocated_bytes[0].peak;
}
#else
// CPU builds: every stream is program order.
struct DeviceStreams::Impl {};
struct DeviceStreams::Scope::State {};
DeviceStreams::DeviceStreams(torch::Device device) : device_(device) {}
DeviceStreams::Scope DeviceStreams::Enter(SideStream) { return Scope(nullptr); }
DeviceStreams::Marker DeviceStreams::Mark() { return Marker(); }
DeviceStreams::Marker DeviceStreams::MarkTimed() { return Marker(); }
void DeviceStreams::Marker::HostWait() {}
void DeviceStreams::Marker::StreamWait() {}
bool DeviceStreams::Marker::Done() { return true; }
double DeviceStreams::Marker::Elapsed(const Marker&, const Marker&) { return 0.0; }
DeviceStreams::Marker::~Marker() = default;
void DeviceStreams::KeepAliveOn(const torch::Tensor&, SideStream) {}
int64_t DeviceStreams::allocated_bytes() const { return 0; }
int64_t DeviceStreams::reserved_bytes() const { return 0; }
int64_t DeviceStreams::peak_allocated_bytes() const { return 0; }
#endif

DeviceStreams::~DeviceStreams() = default;
DeviceStreams::Scope::Scope(std::unique_ptr<State> state)
    : state_(std::move(state)), thread_(std::this_thread::get_id()) {}
DeviceStreams::Scope::~Scope() {
  // Ending elsewhere would restore another thread's stream and leave this one's switched.
  ZEROD_CHECK(thread_ == std::thread::id() || thread_ == std::this_thread::get_id());
}
DeviceStreams::Scope::Scope(Scope&& o) noexcept
    : state_(std::move(o.state_)), thread_(std::exchange(o.thread_, std::thread::id())) {}
DeviceStreams::Marker::Marker(Marker&& o) noexcept : event_(o.event_) { o.event_ = nullptr; }
DeviceStreams::Marker& DeviceStreams::Marker::operator=(Marker&& o) noexcept {
  std::swap(event_, o.event_);
  return *this;
}

}  // namespace zerod::zero
