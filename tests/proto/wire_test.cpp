// The wire conversion of a step (proto/wire.h): every field of the message is carried, in
// both directions. (A job's spec: tests/config/job_fields_test.cpp.)
#include "proto/wire.h"

#include <gtest/gtest.h>

#include <string>

namespace zerod::wire {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Every scalar field of `m` set to a value of its own (1, 2, ... in field order).
void FillEveryField(Message& m) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(&m, f, i + 1);
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(&m, f, i + 1);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        r->SetDouble(&m, f, i + 1.5);
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(&m, f, true);
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(&m, f, "value " + std::to_string(i));
        break;
      default:
        ADD_FAILURE() << f->name() << ": a field type the test does not fill";
    }
  }
}

TEST(WireTest, EveryStepFieldCrossesBothWays) {
  v1::StepMetrics sent;
  FillEveryField(sent);
  const v1::StepMetrics back = ToProto(FromProto(sent));
  EXPECT_EQ(back.SerializeAsString(), sent.SerializeAsString()) << back.DebugString();
}

}  // namespace
}  // namespace zerod::wire
