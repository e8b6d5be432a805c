"""The plugin's own test: cellconsensus' conformance suite, as a plugin author runs it."""

from cellconsensus_meanshift import MeanShiftStrategy

from cellconsensus.testing import check_strategy


def test_meanshift_meets_the_strategy_contract():
    check_strategy(MeanShiftStrategy)
    check_strategy(MeanShiftStrategy(bandwidth="auto", min_clicks=3))
