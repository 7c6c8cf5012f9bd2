// GoogleTest main for every zerod test binary: initialises MPI once, shares one world
// communicator with the tests, and keeps the output of ranks other than 0 quiet (their
// failures still fail the run: each rank's exit code counts under mpirun).
#include <execinfo.h>
#include <gtest/gtest.h>
#include <ucontext.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "engine/comm/mpi_communicator.h"
#ifdef ZEROD_CUDA
#include "engine/comm/nccl_communicator.h"
#endif
#include "tests/support/test_env.h"

namespace zerod::testing {
namespace {
comm::Communicator* g_world = nullptr;
comm::Communicator* g_gpu_world = nullptr;
}  // namespace

comm::Communicator& World() { return *g_world; }
comm::Communicator* GpuWorld() { return g_gpu_world; }

}  // namespace zerod::testing

namespace {
// A crash in a test prints where it happened (MPI's own handler prints one frame).
// For a jump to address 0, the unwinder stops at once: the caller's return address is
// then at the top of the stack, printed first.
void PrintBacktraceAndDie(int sig, siginfo_t*, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  void* top[2] = {reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]),
                  *reinterpret_cast<void**>(uc->uc_mcontext.gregs[REG_RSP])};
  backtrace_symbols_fd(top, 2, STDERR_FILENO);
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void InstallCrashHandler(int sig) {
  struct sigaction action {};
  action.sa_sigaction = PrintBacktraceAndDie;
  action.sa_flags = SA_SIGINFO;
  sigaction(sig, &action, nullptr);
}
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto runtime = zerod::comm::MpiRuntime::Init(&argc, &argv);
  if (!runtime.ok()) {
    std::fprintf(stderr, "MPI init failed: %s\n", std::string(runtime.status().message()).c_str());
    return 1;
  }
  InstallCrashHandler(SIGSEGV);
  InstallCrashHandler(SIGABRT);
  int rc = 1;
  {
    auto world = zerod::comm::MpiCommunicator::CreateWorld();
    if (!world.ok()) return 1;
    zerod::testing::g_world = world->get();
    if ((*world)->rank() != 0) {
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
    }
#ifdef ZEROD_CUDA
    auto nccl = zerod::comm::NcclCommunicator::Create(world->get(), (*world)->local_rank(),
                                                      std::chrono::seconds(300));
    if (nccl.ok()) zerod::testing::g_gpu_world = nccl->get();
#endif
    rc = RUN_ALL_TESTS();
    zerod::testing::g_gpu_world = nullptr;
    // A rank whose test failed must not leave the others waiting in a collective.
    int64_t worst = rc;
    (void)(*world)->AllReduce(&worst, 1, zerod::DType::kInt64, zerod::comm::ReduceOp::kMax);
    rc = static_cast<int>(worst);
  }
  return rc;
}
