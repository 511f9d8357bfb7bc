import numpy as np

import relukit


def test_every_name_resolves_to_the_module_level_object():
    for name in relukit.names():
        assert relukit.get(name) is getattr(relukit, name)
    assert relukit.names() == sorted(relukit.names())


def test_relu_value_and_derivative():
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan])
    np.testing.assert_array_equal(relukit.relu(x), [0, 0, 0, 3, np.nan])
    np.testing.assert_array_equal(relukit.relu.derivative(x), [0, 0, 0, 1, np.nan])
