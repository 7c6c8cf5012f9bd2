// The parsed form of a chat template: expressions and statements, each with the line it
// came from (errors name it). Built by parser.cpp, walked by renderer.cpp; immutable once
// parsed, so one parsed template renders any number of conversations, from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/chat/value.h"

namespace zerod::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprType {
  kLiteral,  // value
  kName,     // name
  kList,     // args: the items (tuples are lists here)
  kDict,     // args: key, value, key, value, ...
  kAttr,     // args[0].name
  kItem,     // args[0][args[1]]
  kSlice,    // args[0][args[1]:args[2]:args[3]], absent parts null
  kCall,     // args[0](args[1..], kwargs)
  kFilter,   // args[0] | name(args[1..], kwargs)
  kTest,     // args[0] is [not] name(args[1..]); negated
  kUnary,    // op: "-", "+", "not"; args[0]
  kBinary,   // op: + - * / // % ** ~ == != < > <= >= in "not in" and or; args[0], args[1]
  kCond,     // args[0] if args[1] else args[2] (args[2] null: undefined)
};

struct Expr {
  ExprType type;
  int line = 0;
  std::string name;  // kName, kAttr, kFilter, kTest; kUnary/kBinary: the operator
  bool negated = false;
  Value value;  // kLiteral
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // kCall, kFilter
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class StmtType {
  kText,    // text
  kOutput,  // {{ expr }}
  kIf,      // branches: (cond, body)...; else_body
  kFor,     // targets in expr [if filter]: body; else_body
  kSet,     // targets[0] (or ns.attr: targets = {ns, attr}) = expr, or the body's output
  kMacro,   // macro
  kBreak,
  kContinue,
  kBlock,  // {% generation %}...: its body, rendered in place
};

// A macro's definition; calls render its body with the parameters bound.
struct MacroNode {
  std::string name;
  int line = 0;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // one per parameter, null where none
  Body body;
};

struct Stmt {
  StmtType type;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::string> targets;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::shared_ptr<MacroNode> macro;
};

}  // namespace zerod::chat
