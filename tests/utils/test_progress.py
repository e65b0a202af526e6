"""Progress bars draw on a terminal only: a log file or a captured stream
gets nothing."""
import io

from asda_test_utils import Terminal

from asda.utils.progress import progress_bar, track


def test_a_terminal_gets_the_bar_and_its_count():
    out = Terminal()
    assert list(track(range(4), 'counting', file=out)) == [0, 1, 2, 3]
    text = out.getvalue()
    assert text.startswith('counting\n')
    assert '4/4' in text and text.endswith('\n')


def test_a_stream_that_is_no_terminal_gets_nothing():
    out = io.StringIO()
    assert list(track(['a', 'b'], 'counting', file=out)) == ['a', 'b']
    bar = progress_bar(3, 'writing', file=out)
    bar.update(3)
    bar.close()
    assert out.getvalue() == ''
    assert bar.done == 3


def test_a_generator_without_length_counts_without_a_total():
    out = Terminal()
    list(track((i for i in range(3)), 'counting', file=out))
    assert 'completed: 3' in out.getvalue()


def test_many_fast_steps_redraw_the_bar_a_few_times_and_end_at_the_total():
    out = Terminal()
    bar = progress_bar(10000, 'counting', file=out)
    for _ in range(10000):
        bar.update()
    bar.close()
    text = out.getvalue()
    assert text.count('\r') < 100  # not once a step
    assert '10000/10000' in text
