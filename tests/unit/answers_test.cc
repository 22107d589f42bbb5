// Final-answer extraction and the answer normalizer: pairs that must compare equal and
// pairs that must not, written by hand to cover what MATH and GSM8K answers look like.

#include <string>
#include <utility>
#include <vector>

#include "answers/final_answer.h"
#include "answers/majority_vote.h"
#include "answers/normalize_answer.h"
#include "gtest/gtest.h"

namespace dsm::answers {
namespace {

TEST(FinalAnswerTest, TakesTheLastBoxWithNestedBraces) {
  EXPECT_EQ(ExtractFinalAnswer("so \\boxed{3} wait, \\boxed{\\frac{1}{2}}."), "\\frac{1}{2}");
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");
  EXPECT_EQ(ExtractFinalAnswer("The area is $\\boxed{4\\sqrt{3}}$."), "4\\sqrt{3}");
  EXPECT_EQ(ExtractFinalAnswer("\\fbox{7} and later \\boxed{8}"), "8");
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{8} then \\fbox{9}"), "9");
  EXPECT_EQ(ExtractFinalAnswer("Answer: \\boxed 5 is it"), "5");
  EXPECT_EQ(ExtractFinalAnswer("put it in \\boxed{} ... \\boxed{12}"), "12");
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{12} and an empty \\boxed{}"), "12");
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{ x = 2 }"), "x = 2");
  EXPECT_EQ(ExtractFinalAnswer("unclosed \\boxed{1 + {2"), "1 + {2");
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{\\text{(B)}}"), "\\text{(B)}");
}

TEST(FinalAnswerTest, FallsBackToGsm8kMarksAndAnswerSentences) {
  EXPECT_EQ(ExtractFinalAnswer("She pays 3*4=12 dollars.\n#### 12"), "12");
  EXPECT_EQ(ExtractFinalAnswer("#### 1,234\n"), "1,234");
  EXPECT_EQ(ExtractFinalAnswer("#### 5 then\n#### 6"), "6");
  EXPECT_EQ(ExtractFinalAnswer("Thus the answer is 42."), "42");
  EXPECT_EQ(ExtractFinalAnswer("The answer is: $\\frac{3}{4}$. Done"), "$\\frac{3}{4}$");
  EXPECT_EQ(ExtractFinalAnswer("So The Answer Is 3.5."), "3.5");
  EXPECT_EQ(ExtractFinalAnswer("the answer is 7\nmore text"), "7");
  EXPECT_EQ(ExtractFinalAnswer("所以答案是 15。"), "15");
  EXPECT_EQ(ExtractFinalAnswer("答案是：\\frac{1}{3}"), "\\frac{1}{3}");
  // A box wins over the other forms wherever it is.
  EXPECT_EQ(ExtractFinalAnswer("\\boxed{3}\nThe answer is 4"), "3");
  EXPECT_EQ(ExtractFinalAnswer("No final answer here."), std::nullopt);
  EXPECT_EQ(ExtractFinalAnswer(""), std::nullopt);
  EXPECT_EQ(ExtractFinalAnswer("####   \n"), std::nullopt);
}

TEST(FinalAnswerTest, ReferenceAnswersOfDatasets) {
  EXPECT_EQ(ReferenceAnswer("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72"), "72");
  EXPECT_EQ(ReferenceAnswer("  \\frac{1}{2} "), "\\frac{1}{2}");
  EXPECT_EQ(ReferenceAnswer("#### 1,000"), "1,000");
}

const std::vector<std::pair<std::string, std::string>> kEqual = {
    // Integers and decimals
    {"5", "5"},
    {"5", " 5 "},
    {"5", "5.0"},
    {"5", "5.00"},
    {"5", "5."},
    {"5", "+5"},
    {"5", "$5$"},
    {"5", "\\$5"},
    {"5", "{5}"},
    {"5", "{{5}}"},
    {"-3",
     "\xe2\x88\x92"
     "3"},
    {"-3", "- 3"},
    {"0", "0.0"},
    {"0", "-0"},
    {"12", "012"},
    {"100", "100.000"},
    {"0.5", "0.50"},
    {"0.5", ".5"},
    {"0.25", "\\frac14"},
    {"2.5", "5/2"},
    {"3.14", "3.140"},
    {"-0.75", "-\\frac{3}{4}"},
    {"1.5", "\\frac{3}{2}"},
    // Thousands separators
    {"1000", "1,000"},
    {"1234567", "1,234,567"},
    {"1000.5", "1,000.5"},
    {"1000", "1{,}000"},
    {"1000", "\\$1,000"},
    {"-2000", "-2,000"},
    {"1000000", "1,000,000.00"},
    // Fractions in every spelling
    {"\\frac{1}{2}", "1/2"},
    {"\\frac{1}{2}", "0.5"},
    {"\\frac{1}{2}", "\\frac12"},
    {"\\frac{1}{2}", "\\dfrac{1}{2}"},
    {"\\frac{1}{2}", "\\tfrac{1}{2}"},
    {"\\frac{1}{2}", "\\frac1{2}"},
    {"\\frac{1}{2}", "\\frac{1}2"},
    {"\\frac{1}{2}", "2/4"},
    {"\\frac{1}{2}", "\\frac{2}{4}"},
    {"\\frac{1}{2}", "\\frac{0.5}{1}"},
    {"\\frac{1}{2}", "$\\frac{1}{2}$"},
    {"\\frac{1}{2}", "\\(\\frac{1}{2}\\)"},
    {"\\frac{1}{2}", "\\displaystyle\\frac{1}{2}"},
    {"-\\frac{1}{2}", "\\frac{-1}{2}"},
    {"-\\frac{1}{2}", "\\frac{1}{-2}"},
    {"-\\frac{1}{2}", "-1/2"},
    {"-\\frac{1}{2}", "-0.5"},
    {"\\frac{3}{1}", "3"},
    {"\\frac{10}{4}", "2.5"},
    {"\\frac{7}{3}", "7/3"},
    {"\\frac{7}{3}", "\\dfrac{14}{6}"},
    {"\\frac{1}{3}", "\\frac{1}{3}"},
    {"\\frac{22}{7}", "\\frac {22} {7}"},
    {"\\frac{1}{8}", "0.125"},
    {"\\frac{3}{8}", "0.375"},
    // Radicals
    {"\\sqrt{2}", "\\sqrt2"},
    {"\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"},
    {"\\frac{\\sqrt{2}}{2}", "\\frac{\\sqrt2}{2}"},
    {"\\frac{\\sqrt{2}}{2}", "\\dfrac{\\sqrt{2}}{2}"},
    {"\\sqrt{3}/3", "\\frac{\\sqrt3}{3}"},
    {"2\\sqrt{3}", "2\\sqrt3"},
    {"2\\sqrt{3}", "2 \\sqrt{3}"},
    {"\\sqrt[3]{2}", "\\sqrt[3]{2}"},
    {"\\frac{1}{\\sqrt{2}}", "1/\\sqrt{2}"},
    {"3\\sqrt{2}/2", "\\frac{3\\sqrt{2}}{2}"},
    {"\\frac{\\pi}{2}", "\\pi/2"},
    {"\\frac{\\pi}{2}", "\\dfrac{\\pi}{2}"},
    // Percent, degrees, units
    {"50", "50\\%"},
    {"50", "50%"},
    {"50", "50 \\%"},
    {"12.5", "12.5\\%"},
    {"30", "30^\\circ"},
    {"30", "30^{\\circ}"},
    {"30", "30\xc2\xb0"},
    {"30", "30 degrees"},
    {"30", "30\\degree"},
    {"90", "90^\\circ."},
    {"5", "5 cm"},
    {"5", "5\\text{ cm}"},
    {"5", "5 \\text{cm}"},
    {"12", "12 dollars"},
    {"12", "\\$12"},
    {"12", "12\\text{ dollars}"},
    {"4", "4 \\mbox{ hours}"},
    {"3", "3 \\text{ inches}"},
    {"20", "20 square feet"},
    {"9", "9\\text{ cm}^2"},
    {"9", "9 cm^2"},
    {"7", "7 \\mathrm{kg}"},
    {"60", "60 mph"},
    {"15", "15 minutes"},
    {"2", "2 \\text{ days}"},
    {"45", "45 cents"},
    {"8", "8 \\textbf{ meters}"},
    {"10", "10 \\text{units}"},
    // Equations and variables
    {"5", "x = 5"},
    {"5", "x=5"},
    {"5", "y = 5"},
    {"-2", "a=-2"},
    {"5", "x_1 = 5"},
    {"\\frac{1}{2}", "t = \\frac{1}{2}"},
    {"3", "\\theta = 3"},
    {"7", "n=7."},
    {"2", "k = 2.0"},
    {"x+1", "x + 1"},
    {"x^2+2x+1", "x^2 + 2x + 1"},
    {"y=2x+3", "y = 2x + 3"},
    {"2x+3", "y = 2x + 3"},
    // Layout and spacing commands
    {"(1,2)", "\\left(1, 2\\right)"},
    {"(1,2)", "( 1 , 2 )"},
    {"[0,1]", "\\left[0,1\\right]"},
    {"(0,\\infty)", "(0, \\infty)"},
    {"(0,\\infty)", "(0,\xe2\x88\x9e)"},
    {"2\\pi", "2\xcf\x80"},
    {"3\\pi", "3\\,\\pi"},
    {"6", "6\\!"},
    {"6", "6\\;"},
    {"1000", "1\\,000"},
    {"\\frac{1}{2}", "\\left.\\frac{1}{2}\\right."},
    {"4", "~4"},
    // Sets without order
    {"1,2", "2,1"},
    {"1,2,3", "3, 1, 2"},
    {"\\{1,2\\}", "\\{2, 1\\}"},
    {"\\{1,2\\}", "1, 2"},
    {"-1,1", "1,-1"},
    {"x=1,x=2", "2, 1"},
    {"\\frac{1}{2},2", "2, 0.5"},
    {"\\sqrt{2},-\\sqrt{2}", "-\\sqrt2, \\sqrt2"},
    {"a,b", "b, a"},
    {"3,5,7", "7,5,3"},
    {"0,1", "1, 0"},
    {"-3,4", "4, -3"},
    // Tuples, points and intervals keep their order but normalize their elements
    {"(1,2)", "(1.0, 2)"},
    {"(\\frac{1}{2},3)", "(0.5, 3)"},
    {"(-1,\\infty)", "(-1, \\infty)"},
    {"[2,5)", "[2, 5)"},
    {"(1,2,3)", "(1, 2, 3)"},
    {"(3,4)", "\\left( 3, 4 \\right)"},
    // Text answers and multiple choice
    {"\\text{(A)}", "A"},
    {"(A)", "a"},
    {"\\text{B}", "(B)"},
    {"\\textbf{(C)}", "C"},
    {"\\text{Yes}", "yes"},
    {"No", "no"},
    {"\\text{even}", "Even"},
    {"\\text{odd}", "ODD"},
    {"\\mathrm{E}", "(E)"},
    {"\\text{Monday}", "monday"},
    // Expressions that only differ in spelling
    {"\\frac{x}{2}", "x/2"},
    {"\\frac{a}{b}", "a/b"},
    {"\\frac{1}{x}", "1/x"},
    {"\\frac{x+1}{2}", "\\frac{x+1}{2}"},
    {"(x+1)/2", "\\frac{x+1}{2}"},
    {"\\frac{1}{4}", "\\left(\\frac{1}{4}\\right)"},
    {"x^2", "x^{2}"},
    {"10^{3}", "10^{3}"},
    {"2^{10}", "2^{10}"},
    {"e^{x}", "e^{x}"},
    // GSM8K-style numbers
    {"18", "$18"},
    {"18", "\\$18.00"},
    {"18", "18.0"},
    {"1200", "$1,200"},
    {"1200", "1,200 dollars"},
    {"5", "5 apples"},
    {"0.25", "25/100"},
    {"14", "14 red marbles"},
    {"3", "3 more pages"},
    {"\\frac{5}{10}", "1/2"},
    {"0.2", "1/5"},
    {"\\frac{9}{3}", "3"},
    {"3.0", "\\frac{6}{2}"},
    {"-4", "-4.0"},
    {"5.5", "\\$ 5.50"},
    {"5.5", "5.50 dollars"},
    {"75", "75\\%"},
    {"2,1", "\\left\\{ 1,2 \\right\\}"},
    {"(2,3)", "(2, 3)"},
    {"\\text{No}", "no"},
    {"\\text{ (D) }", "d"},
    {"100", "100\\text{ cm}"},
    {"16", "16 \\text{ cm}^{2}"},
    {"x^3", "x^{3}"},
    {"a_1", "a_{1}"},
    {"(5)", "5"},
    {"((7))", "7"},
    {"2x", "(2x)"},
    {"\\frac{3}{4}", "0.75"},
    {"\\frac{5}{4}", "1.25"},
    {"\\frac{-3}{-4}", "0.75"},
    {"1", "\\frac{4}{4}"},
    {"10", "10.00\\%"},
};

const std::vector<std::pair<std::string, std::string>> kDifferent = {
    {"5", "6"},
    {"5", "-5"},
    {"5", "50"},
    {"0.5", "5"},
    {"0.5", "0.05"},
    {"\\frac{1}{2}", "\\frac{1}{3}"},
    {"\\frac{1}{2}", "2"},
    {"\\frac{1}{2}", "0.05"},
    {"\\frac{1}{3}", "0.33"},
    {"\\frac{1}{3}", "0.333"},
    {"\\frac{2}{3}", "0.67"},
    {"50\\%", "0.5"},
    {"\\frac{1}{2}", "50\\%"},
    {"1,000", "1"},
    {"1,000", "0"},
    {"1,2", "1,3"},
    {"1,2", "12"},
    {"1,2", "1"},
    {"(1,2)", "(2,1)"},
    {"[0,1]", "(0,1)"},
    {"[0,1)", "[0,1]"},
    {"(1,2)", "1,2"},
    {"\\sqrt{2}", "2"},
    {"\\sqrt{2}", "\\sqrt{3}"},
    {"\\sqrt{2}/2", "\\sqrt{2}"},
    {"2\\sqrt{3}", "3\\sqrt{2}"},
    {"\\sqrt[3]{2}", "\\sqrt{2}"},
    {"\\pi", "3.14"},
    {"2\\pi", "\\pi"},
    {"\\frac{\\pi}{2}", "\\frac{\\pi}{3}"},
    {"x+1", "x-1"},
    {"x^2", "x^3"},
    {"2x", "2"},
    {"x", "y"},
    {"y=2x+3", "y=2x-3"},
    {"A", "B"},
    {"(A)", "(B)"},
    {"yes", "no"},
    {"even", "odd"},
    {"\\text{Monday}", "Tuesday"},
    {"30", "30.5"},
    {"30^\\circ", "60^\\circ"},
    {"12 cm", "13 cm"},
    {"\\$12", "\\$13"},
    {"1.5", "1.05"},
    {"100", "1000"},
    {"1,234", "1,243"},
    {"-\\frac{1}{2}", "\\frac{1}{2}"},
    {"\\frac{-1}{2}", "0.5"},
    {"(0,\\infty)", "(-\\infty,0)"},
    {"\\infty", "-\\infty"},
    {"3,5,7", "3,5"},
    {"\\{1,2\\}", "\\{1,2,3\\}"},
    {"-3,4", "3,-4"},
    {"(3,4)", "(3,5)"},
    {"2^{10}", "2^{11}"},
    {"10^{3}", "1000"},
    {"e^x", "e^{-x}"},
    {"\\frac{x}{2}", "\\frac{x}{3}"},
    {"x/2", "2/x"},
    {"1/x", "x"},
    {"\\frac{a}{b}", "\\frac{b}{a}"},
    {"\\frac{x+1}{2}", "x+1"},
    {"0", "1"},
    {"0", "o"},
    {"12", "21"},
    {"7", "7x"},
    {"3", "3\\pi"},
    {"3", "\\sqrt{3}"},
    {"4", "4^2"},
    {"9", "3^2"},
    {"1/2", "2/1"},
    {"5", "x=6"},
    {"x=5", "y=6"},
    {"\\frac{1}{4}", "\\frac{1}{4}x"},
    {"8 \\text{ meters}", "9"},
    {"15 minutes", "16"},
    {"2.5", "2,5"},
    {"1,000.5", "1000.25"},
    {"0.125", "\\frac{1}{9}"},
    {"12.5\\%", "125"},
    {"(1,2,3)", "(1,2)"},
    {"[2,5)", "(2,5]"},
    {"a,b", "a,c"},
    {"\\text{(C)}", "D"},
    {"18", "18.01"},
    {"1200", "12000"},
    {"-2", "2"},
    {"\\frac{7}{3}", "\\frac{3}{7}"},
    {"\\frac{22}{7}", "3.14"},
    {"4\\sqrt{3}", "\\sqrt{48}x"},
    {"5 apples", "6 apples"},
    {"\\frac{5}{10}", "5/100"},
    {"0.2", "2"},
    {"\\frac{9}{3}", "9"},
    {"-4", "4"},
    {"5.5", "55"},
    {"75\\%", "7.5"},
    {"(2,3)", "(3,2)"},
    {"\\text{No}", "yes"},
    {"d", "e"},
    {"100 cm", "1 m"},
    {"x^3", "x^2"},
    {"a_1", "a_2"},
    {"(5)", "(5,5)"},
    {"2x", "x2"},
    {"0.75", "\\frac{4}{3}"},
    {"1.25", "\\frac{4}{5}"},
    {"1", "\\frac{4}{5}"},
    {"10", "0.1"},
    {"\\sqrt{2}", "\\sqrt[3]{2}"},
    {"3 more pages", "4"},
    {"x", "x^2"},
    {"\\{1\\}", "\\{1,1,2\\}"},
    {"(1,2]", "[1,2]"},
    {"2^3", "8^1"},
    {"0.001", "0.01"},
    {"-\\sqrt{2}", "\\sqrt{2}"},
    {"1/3", "3"},
};

TEST(NormalizeAnswerTest, EquivalentAnswersCompareEqual) {
  for (const auto& [a, b] : kEqual) {
    EXPECT_TRUE(SameAnswer(a, b)) << "'" << a << "' -> '" << NormalizeAnswer(a) << "' vs '" << b
                                  << "' -> '" << NormalizeAnswer(b) << "'";
  }
}

TEST(NormalizeAnswerTest, DifferentAnswersStayDifferent) {
  for (const auto& [a, b] : kDifferent) {
    EXPECT_FALSE(SameAnswer(a, b)) << "'" << a << "' -> '" << NormalizeAnswer(a) << "' vs '" << b
                                   << "' -> '" << NormalizeAnswer(b) << "'";
  }
}

TEST(NormalizeAnswerTest, CanonicalForms) {
  EXPECT_EQ(NormalizeAnswer("\\dfrac{6}{4}"), "3/2");
  EXPECT_EQ(NormalizeAnswer("0.50"), "1/2");
  EXPECT_EQ(NormalizeAnswer("1,000"), "1000");
  EXPECT_EQ(NormalizeAnswer("x = 5"), "5");
  EXPECT_EQ(NormalizeAnswer("3, 1, 2"), "1,2,3");
  EXPECT_EQ(NormalizeAnswer("\\left( 1, 2 \\right)"), "(1,2)");
  EXPECT_EQ(NormalizeAnswer("\\sqrt2/2"), "\\frac{\\sqrt{2}}{2}");
  EXPECT_EQ(NormalizeAnswer("\\text{(B)}"), "b");
  EXPECT_EQ(NormalizeAnswer(""), "");
  EXPECT_FALSE(SameAnswer("", ""));
  EXPECT_GE(kEqual.size() + kDifferent.size(), 300u);
}

}  // namespace
}  // namespace dsm::answers

namespace dsm::answers {
namespace {

TEST(MajorityVoteTest, CountsStatedAnswersAndBreaksTiesByFirstAppearance) {
  const Vote vote = MajorityVote({"1/2", "", "3", "1/2", "3", "7"});
  EXPECT_EQ(vote.answer, "1/2");  // 2 votes each for 1/2 and 3: 1/2 came first
  EXPECT_EQ(vote.count, 2);
  EXPECT_EQ(vote.voters, 5);
  EXPECT_DOUBLE_EQ(vote.share, 0.4);
  EXPECT_EQ(vote.supporters, (std::vector<int>{0, 3}));
  ASSERT_EQ(vote.distribution.size(), 3u);
  EXPECT_EQ(vote.distribution[1], (std::pair<std::string, int>{"3", 2}));
  EXPECT_EQ(vote.distribution[2], (std::pair<std::string, int>{"7", 1}));
  const Vote none = MajorityVote({"", ""});
  EXPECT_TRUE(none.answer.empty());
  EXPECT_EQ(none.voters, 0);
}

}  // namespace
}  // namespace dsm::answers
