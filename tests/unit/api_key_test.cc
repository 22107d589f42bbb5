#include "common/api_key.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(ApiKeyTest, BearerTokensMatchOnlyTheWholeKey) {
  EXPECT_TRUE(BearerTokenMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(BearerTokenMatches("bearer s3cret", "s3cret"));  // the scheme's case is free
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cre", "s3cret"));  // a prefix
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cretX", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer S3cret", "s3cret"));  // the key's case is not
  EXPECT_FALSE(BearerTokenMatches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("", "s3cret"));
  EXPECT_TRUE(BearerTokenMatches("", ""));  // no key configured: open
  EXPECT_EQ(BearerAuthorization("k"), "Bearer k");
}

TEST(ApiKeyTest, TheFlagWinsOverTheEnvironment) {
  setenv(kApiKeyEnv, "from-env", 1);
  EXPECT_EQ(ApiKeyFromFlagOrEnv("from-flag"), "from-flag");
  EXPECT_EQ(ApiKeyFromFlagOrEnv(""), "from-env");
  unsetenv(kApiKeyEnv);
  EXPECT_EQ(ApiKeyFromFlagOrEnv(""), "");
}

}  // namespace
}  // namespace dsm
