// The side streams of the GPU path and the ordering between them, behind an interface
// that is a no-op on CPU builds (CPU work is already in program order).
//
//   compute stream   the unit kernels (whatever stream is current; autograd keeps it)
//   copy-in stream   host->GPU copies of offloaded parameter shards, ahead of use
//   copy-out stream  GPU->host copies of reduce-scattered gradient shards
//   update stream    the CPU optimizer's worker thread: gradients down, updated 16-bit
//                    shards up (shard_optimizer.h)
//   device-update stream  the GPU optimizer's updates of device-held groups, beside the
//                    next forward, which waits only for the group it fetches
//   (the NCCL communicator has a stream of its own; see nccl_communicator.h)
//
// A Scope makes a side stream current after it has been ordered behind everything
// already queued on the stream that was current (an event, never a device sync).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <thread>

namespace zerod::zero {

enum class SideStream { kCopyIn, kCopyOut, kUpdate, kDeviceUpdate };

class DeviceStreams {
 public:
  explicit DeviceStreams(torch::Device device);
  ~DeviceStreams();
  DeviceStreams(const DeviceStreams&) = delete;
  DeviceStreams& operator=(const DeviceStreams&) = delete;

  bool cuda() const { return device_.is_cuda(); }
  torch::Device device() const { return device_; }

  class Scope {
   public:
    ~Scope();
    Scope(Scope&&) noexcept;
    Scope(const Scope&) = delete;

   private:
    friend class DeviceStreams;
    struct State;
    explicit Scope(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
    std::thread::id thread_;  // the entering thread; none once moved from
  };
  // Makes side stream `which` the calling thread's current stream until the Scope ends,
  // ordered behind the work already queued on the stream current before. The current
  // stream is per thread: the Scope must end on the thread that entered it (checked).
  Scope Enter(SideStream which);

  // A point in the current stream's work that the host can wait for.
  class Marker {
   public:
    Marker() = default;
    ~Marker();
    Marker(Marker&&) noexcept;
    Marker& operator=(Marker&&) noexcept;
    // Blocks the host until the marked work is done (returns at once on CPU).
    void HostWait();
    // Makes the calling thread's current stream wait for the marked work (no host block).
    void StreamWait();
    // True once the marked work is done (or nothing was marked).
    bool Done();
    // Seconds between two timed markers of one stream, both done; 0 on CPU.
    static double Elapsed(const Marker& start, const Marker& end);

   private:
    friend class DeviceStreams;
    void* event_ = nullptr;  // cudaEvent_t
  };
  Marker Mark();
  // A marker whose time can be read with Marker::Elapsed (a timing event: costlier).
  Marker MarkTimed();

  // Tells the caching allocator that `t` is in use on `which`, so its memory is not
  // handed out again before that stream's work on it is done.
  void KeepAliveOn(const torch::Tensor& t, SideStream which);

  // Device memory figures from the caching allocator (0 on CPU).
  int64_t allocated_bytes() const;
  int64_t reserved_bytes() const;
  int64_t peak_allocated_bytes() const;

 private:
  struct Impl;
  torch::Device device_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zerod::zero
