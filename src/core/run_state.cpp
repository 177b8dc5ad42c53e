// The run and block state machines: see run_state.hpp for the diagram. The tables below are the
// whole truth; test/unit/run_state_test.cpp checks every (state, event) pair against its own copy.
#include "core/run_state.hpp"

#include "core/pg_free.hpp"

namespace pgpipe::core {

const char* StateName(RunState state) {
  switch (state) {
    case RunState::kQueued: return "queued";
    case RunState::kRunning: return "running";
    case RunState::kSucceeded: return "succeeded";
    case RunState::kFailed: return "failed";
    case RunState::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* StateName(BlockState state) {
  switch (state) {
    case BlockState::kPending: return "pending";
    case BlockState::kRunning: return "running";
    case BlockState::kSucceeded: return "succeeded";
    case BlockState::kFailed: return "failed";
    case BlockState::kSkipped: return "skipped";
    case BlockState::kUpstreamFailed: return "upstream_failed";
    case BlockState::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* EventName(RunEvent event) {
  switch (event) {
    case RunEvent::kClaim: return "claim";
    case RunEvent::kSucceed: return "succeed";
    case RunEvent::kFail: return "fail";
    case RunEvent::kCancel: return "cancel";
    case RunEvent::kRequeue: return "requeue";
  }
  return "unknown";
}

const char* EventName(BlockEvent event) {
  switch (event) {
    case BlockEvent::kStart: return "start";
    case BlockEvent::kRetry: return "retry";
    case BlockEvent::kSucceed: return "succeed";
    case BlockEvent::kFail: return "fail";
    case BlockEvent::kSkip: return "skip";
    case BlockEvent::kBlock: return "block";
    case BlockEvent::kCancel: return "cancel";
    case BlockEvent::kReset: return "reset";
  }
  return "unknown";
}

std::optional<RunState> ParseRunState(const std::string& name) {
  for (RunState s : kAllRunStates)
    if (name == StateName(s)) return s;
  return std::nullopt;
}

std::optional<BlockState> ParseBlockState(const std::string& name) {
  for (BlockState s : kAllBlockStates)
    if (name == StateName(s)) return s;
  return std::nullopt;
}

bool IsFinal(RunState state) {
  return state == RunState::kSucceeded || state == RunState::kFailed ||
         state == RunState::kCancelled;
}

bool IsFinal(BlockState state) {
  return state != BlockState::kPending && state != BlockState::kRunning;
}

bool BlocksDownstream(BlockState state) {
  return state == BlockState::kFailed || state == BlockState::kUpstreamFailed ||
         state == BlockState::kCancelled;
}

std::optional<RunState> NextState(RunState from, RunEvent event) {
  switch (from) {
    case RunState::kQueued:
      switch (event) {
        case RunEvent::kClaim: return RunState::kRunning;
        case RunEvent::kCancel: return RunState::kCancelled;
        case RunEvent::kFail: return RunState::kFailed;  // refused before it started
        default: return std::nullopt;
      }
    case RunState::kRunning:
      switch (event) {
        case RunEvent::kSucceed: return RunState::kSucceeded;
        case RunEvent::kFail: return RunState::kFailed;
        case RunEvent::kCancel: return RunState::kCancelled;
        case RunEvent::kRequeue: return RunState::kQueued;
        default: return std::nullopt;
      }
    case RunState::kSucceeded:
    case RunState::kFailed:
    case RunState::kCancelled:
      return std::nullopt;  // final: a retry is a new run
  }
  return std::nullopt;
}

std::optional<BlockState> NextState(BlockState from, BlockEvent event) {
  if (event == BlockEvent::kReset)
    return from == BlockState::kPending || from == BlockState::kFailed
               ? std::nullopt
               : std::optional<BlockState>(BlockState::kPending);
  switch (from) {
    case BlockState::kPending:
      switch (event) {
        case BlockEvent::kStart: return BlockState::kRunning;
        case BlockEvent::kSkip: return BlockState::kSkipped;
        case BlockEvent::kBlock: return BlockState::kUpstreamFailed;
        case BlockEvent::kCancel: return BlockState::kCancelled;
        case BlockEvent::kFail: return BlockState::kFailed;  // its worker died before starting it
        default: return std::nullopt;
      }
    case BlockState::kRunning:
      switch (event) {
        case BlockEvent::kRetry: return BlockState::kRunning;
        case BlockEvent::kSucceed: return BlockState::kSucceeded;
        case BlockEvent::kFail: return BlockState::kFailed;
        case BlockEvent::kCancel: return BlockState::kCancelled;
        default: return std::nullopt;
      }
    default:
      return std::nullopt;  // final until a reset
  }
}

}  // namespace pgpipe::core
