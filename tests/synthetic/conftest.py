"""Fixtures of the synthetic world's tests."""
import pytest


@pytest.fixture
def checker_scene():
    """A hand-built scene in the checkers' form (asda.synthetic.scenes.
    scene_record), 200 x 200: two red circles left and right, a big blue
    square at the top middle, a red triangle bottom left."""
    objs = [dict(colour='red', shape='circle', cx=40, cy=100, area=1000),
            dict(colour='red', shape='circle', cx=160, cy=100, area=1000),
            dict(colour='blue', shape='square', cx=100, cy=30, area=2500),
            dict(colour='red', shape='triangle', cx=50, cy=170, area=900)]
    return dict(w=200, h=200, objects=objs)


@pytest.fixture
def scene():
    """A hand-built scene of asda.synthetic.scenes.draw_scene's form,
    200 x 200: a small red circle on the left, a large blue square on the
    right, a green triangle near the middle, a bit high."""
    return dict(w=200, h=200, paint_seed=3, objects=[
        dict(colour='red', shape='circle', cx=40, cy=100, r=20),
        dict(colour='blue', shape='square', cx=150, cy=110, r=48),
        dict(colour='green', shape='triangle', cx=95, cy=50, r=28),
    ])
