// The run and block state machines, checked exhaustively: every (state, event) pair against the
// table written out here, so a change to either is a deliberate change to both.
#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "core/run_state.hpp"

using namespace pgpipe::core;

TEST(RunStateMachine, EveryPairMatchesTheTable) {
  using R = RunState;
  using E = RunEvent;
  const std::map<std::pair<R, E>, R> legal = {
      {{R::kQueued, E::kClaim}, R::kRunning},      {{R::kQueued, E::kCancel}, R::kCancelled},
      {{R::kQueued, E::kFail}, R::kFailed},        {{R::kRunning, E::kSucceed}, R::kSucceeded},
      {{R::kRunning, E::kFail}, R::kFailed},       {{R::kRunning, E::kCancel}, R::kCancelled},
      {{R::kRunning, E::kRequeue}, R::kQueued},
  };
  int checked = 0;
  for (R s : kAllRunStates)
    for (E e : kAllRunEvents) {
      SCOPED_TRACE(std::string(StateName(s)) + " + " + EventName(e));
      auto it = legal.find({s, e});
      auto next = NextState(s, e);
      if (it == legal.end())
        EXPECT_FALSE(next.has_value());
      else
        EXPECT_EQ(next, std::optional<R>(it->second));
      ++checked;
    }
  EXPECT_EQ(checked, 25);
}

TEST(RunStateMachine, FinalStatesHaveNoWayOut) {
  for (RunState s : kAllRunStates) {
    if (!IsFinal(s)) continue;
    for (RunEvent e : kAllRunEvents) EXPECT_FALSE(NextState(s, e).has_value()) << StateName(s);
  }
  EXPECT_FALSE(IsFinal(RunState::kQueued));
  EXPECT_FALSE(IsFinal(RunState::kRunning));
}

TEST(BlockStateMachine, EveryPairMatchesTheTable) {
  using B = BlockState;
  using E = BlockEvent;
  std::map<std::pair<B, E>, B> legal = {
      {{B::kPending, E::kStart}, B::kRunning},   {{B::kPending, E::kSkip}, B::kSkipped},
      {{B::kPending, E::kBlock}, B::kUpstreamFailed}, {{B::kPending, E::kCancel}, B::kCancelled},
      {{B::kPending, E::kFail}, B::kFailed},     {{B::kRunning, E::kRetry}, B::kRunning},
      {{B::kRunning, E::kSucceed}, B::kSucceeded}, {{B::kRunning, E::kFail}, B::kFailed},
      {{B::kRunning, E::kCancel}, B::kCancelled},
  };
  for (B s : {B::kRunning, B::kSucceeded, B::kSkipped, B::kUpstreamFailed, B::kCancelled})
    legal[{s, E::kReset}] = B::kPending;
  int checked = 0;
  for (B s : kAllBlockStates)
    for (E e : kAllBlockEvents) {
      SCOPED_TRACE(std::string(StateName(s)) + " + " + EventName(e));
      auto it = legal.find({s, e});
      auto next = NextState(s, e);
      if (it == legal.end())
        EXPECT_FALSE(next.has_value());
      else
        EXPECT_EQ(next, std::optional<B>(it->second));
      ++checked;
    }
  EXPECT_EQ(checked, 56);
}

TEST(BlockStateMachine, NamesRoundTripAndUnknownNamesAreRefused) {
  for (BlockState s : kAllBlockStates) EXPECT_EQ(ParseBlockState(StateName(s)), s);
  for (RunState s : kAllRunStates) EXPECT_EQ(ParseRunState(StateName(s)), s);
  EXPECT_FALSE(ParseBlockState("exploded").has_value());
  EXPECT_FALSE(ParseRunState("").has_value());
  EXPECT_STREQ(StateName(BlockState::kUpstreamFailed), "upstream_failed");
}

TEST(BlockStateMachine, WhatStopsDownstreamBlocks) {
  EXPECT_TRUE(BlocksDownstream(BlockState::kFailed));
  EXPECT_TRUE(BlocksDownstream(BlockState::kUpstreamFailed));
  EXPECT_TRUE(BlocksDownstream(BlockState::kCancelled));
  EXPECT_FALSE(BlocksDownstream(BlockState::kSkipped));
  EXPECT_FALSE(BlocksDownstream(BlockState::kSucceeded));
}
