"""Web demo: ``python demo/gradio_demo.py [CONFIG CHECKPOINT] [--device cpu]
[--port 7860]``.

Upload an image (or pick a bundled example), type up to
:data:`MAX_EXPRESSIONS` expressions, one per line, each at most
:data:`MAX_EXPRESSION_CHARS` characters. For each expression the
page shows the overlay with the expression, the binary mask, the probability
map and the low / mid CLIP layers AFS chose, and offers the mask as a PNG
download. With no arguments it serves the trained demo model that the
checkout ships (:mod:`asda.apis.demo_model`: ``make demo``'s recipe; it knows
the synthetic world of coloured shapes), with example scenes from
``demo/examples/``.

An upload reaches the demo as its file: Gradio does not decode it (the
image input's ``type='filepath'``, ``image_mode=None``), and
:func:`asda.apis.image_io.load_image` reads its size from the header and
refuses an image of more than ``--max-pixels`` pixels (default
:data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`) before decoding it, with the
message in the page: a small file can hold a decompression bomb. Pillow's own
limit is lifted in the demo's process (``PIL.Image.MAX_IMAGE_PIXELS``) so that
Gradio's lazy open of the upload does not fail first with a generic error.
The image is turned by its EXIF orientation, so the masks match the photo as
it is shown.

Files: each request writes its mask PNGs into a folder of its own (unique
names, whatever runs at the same time); folders older than
:data:`KEEP_FILES_S` are removed by the next request and the rest when the
demo exits. Gradio's copies of the results are deleted after the same time
(``delete_cache``), so a download link lasts that long, and when its server
closes. SIGTERM stops the demo as Ctrl-C does (:func:`stop_on_sigterm`), so
both clean up.

Gradio is an optional extra (``pip install -e .[demo]``, or ``make demo-env``
for the pinned set); ``import asda`` never needs it. Gradio's analytics are
off and the page loads nothing from the network.
"""
import argparse
import os
import os.path as osp
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from typing import List, Optional, Sequence

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
EXAMPLE_DIR = osp.join(ROOT, 'demo', 'examples')
#: Expressions one request may have: the page has a result row for each.
MAX_EXPRESSIONS = 4
#: Characters an expression may have: about what CLIP's 77-token context
#: holds (the inferencer warns when an expression is cut to its model's
#: context). The overlay writes an expression on one line, cut with an
#: ellipsis where the image is narrower.
MAX_EXPRESSION_CHARS = 300
#: Seconds the files of a request (and Gradio's cached copies) are kept.
KEEP_FILES_S = 600


class DemoInputError(ValueError):
    """Bad input from the page (shown there, never as a stack trace)."""


def parse_expressions(text: Optional[str], limit: int = MAX_EXPRESSIONS,
                      max_chars: int = MAX_EXPRESSION_CHARS) -> List[str]:
    """One expression per non-empty line, at most ``limit`` of them (more
    are refused before anything is inferred: the page shows ``limit``),
    each at most ``max_chars`` characters."""
    lines = [line.strip() for line in (text or '').splitlines()]
    expressions = [line for line in lines if line]
    if not expressions:
        raise DemoInputError('Type at least one expression (one per line).')
    if len(expressions) > limit:
        raise DemoInputError(
            f'{len(expressions)} expressions given; the demo segments at most {limit} '
            f'per request. Remove {len(expressions) - limit} line(s).')
    for k, expression in enumerate(expressions, 1):
        if len(expression) > max_chars:
            raise DemoInputError(
                f'expression {k} has {len(expression)} characters; the demo takes at '
                f'most {max_chars} per expression. Shorten it.')
    return expressions


def load_image(image, max_pixels: Optional[int] = None) -> np.ndarray:
    """RGB uint8 array from what the page sends (a file path, or an array),
    decoded as the inferencer decodes its inputs (:mod:`asda.apis.image_io`),
    an image of more than ``max_pixels`` pixels refused before it is decoded
    (None: :data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`)."""
    from asda.apis.image_io import DEFAULT_MAX_PIXELS, ImageTooLargeError
    from asda.apis.image_io import load_image as decode
    if image is None:
        raise DemoInputError('Upload an image or pick an example first.')
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    try:
        bgr, _ = decode(image, max_pixels=limit)
    except ImageTooLargeError as err:
        size = (f'{err.width} x {err.height} pixels ('
                f'{err.width * err.height / 1e6:.1f} megapixels)'
                if err.width is not None else 'more pixels than Pillow opens')
        raise DemoInputError(
            f'The image is too large: {size}; this demo takes at most '
            f'{limit / 1e6:.1f} megapixels ({limit:,} pixels). Make it smaller '
            'and upload it again.') from err
    except (OSError, TypeError, ValueError) as err:
        raise DemoInputError(f'Cannot read the image: {err}') from err
    return np.ascontiguousarray(bgr[..., ::-1])


class DemoModel:
    """The inferencer and the drawing behind the page.

    Args:
        config (str): Config file.
        checkpoint (str): Checkpoint file.
        device (str): Where to run.
        max_expressions (int): Expressions one request may have.
        keep_files_s (float): Seconds a request's mask files are kept.
        max_pixels (int, optional): Pixels an image may have (checked before
            it is decoded). Defaults to
            :data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`.
    """

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu',
                 max_expressions: int = MAX_EXPRESSIONS,
                 keep_files_s: float = KEEP_FILES_S,
                 max_pixels: Optional[int] = None):
        from asda.apis import DEFAULT_MAX_PIXELS, RISInferencer
        from asda.visualization import RISLocalVisualizer
        self.max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
        self.inferencer = RISInferencer(config, checkpoint, device=device,
                                        max_pixels=self.max_pixels)
        # one line of text above the overlay, whatever the expression's length
        self.visualizer = RISLocalVisualizer(name=f'gradio_demo_{id(self)}',
                                             max_text_lines=1)
        # the visualizer keeps its canvas (a matplotlib figure): one request
        # draws at a time when Gradio runs several at once
        self._draw_lock = threading.Lock()
        self.max_expressions = max_expressions
        self.keep_files_s = keep_files_s
        self.out_dir = tempfile.mkdtemp(prefix='asda_gradio_')
        self._remove_out_dir = weakref.finalize(self, shutil.rmtree, self.out_dir,
                                                ignore_errors=True)

    def close(self) -> None:
        """Remove every file the requests wrote (also done at exit)."""
        self._remove_out_dir()

    def _request_dir(self) -> str:
        """A new folder for one request's files, after removing the folders
        older than ``keep_files_s`` (Gradio copied their files into its
        cache as their requests returned)."""
        expired = time.time() - self.keep_files_s
        for entry in os.scandir(self.out_dir):
            if entry.is_dir() and entry.stat().st_mtime < expired:
                shutil.rmtree(entry.path, ignore_errors=True)
        return tempfile.mkdtemp(prefix='request_', dir=self.out_dir)

    def run(self, image, text: str):
        """Per expression: overlay, mask, probability map, AFS layers,
        mask PNG path (in a folder of this request's own)."""
        import cv2
        rgb = load_image(image, self.max_pixels)
        expressions = parse_expressions(text, self.max_expressions)
        results = self.inferencer(rgb, expressions)
        folder = self._request_dir()
        outputs = []
        for k, (expr, res) in enumerate(zip(expressions, results)):
            mask = np.asarray(res['mask'], dtype=bool)
            prob = np.asarray(res['prob'], dtype=np.float32)
            with self._draw_lock:
                overlay = self.visualizer.draw_referring(
                    rgb, expr, pred_mask=mask.astype(np.uint8), pred_caption=None)
            heat = cv2.applyColorMap((prob * 255).astype(np.uint8),
                                     cv2.COLORMAP_VIRIDIS)[..., ::-1]
            path = osp.join(folder, f'mask_{k + 1}.png')
            cv2.imwrite(path, mask.astype(np.uint8) * 255)
            layers = res.get('afs_layers')
            outputs.append(dict(
                expression=expr, overlay=overlay, mask=mask.astype(np.uint8) * 255,
                prob=heat, mask_file=path,
                layers=('AFS layers: -' if layers is None else
                        f'AFS layers: low {layers[0]}, mid {layers[1]}') +
                ('' if res.get('no_target') is None else
                 f'; no-target probability {res["no_target"]:.3f}')))
        return outputs


def build_app(model: DemoModel, examples: Sequence[str] = ()):
    """The Gradio Blocks app (a result row for each of the model's
    ``max_expressions``); Gradio deletes its cached copies of the results
    after the model's ``keep_files_s``."""
    import gradio as gr

    max_outputs = model.max_expressions
    keep = model.keep_files_s
    with gr.Blocks(title='ASDA referring segmentation', analytics_enabled=False,
                   delete_cache=(keep, keep)) as app:
        gr.Markdown('# ASDA: referring image segmentation\nUpload an image, type '
                    f'up to {max_outputs} expressions, one per line (at most '
                    f'{MAX_EXPRESSION_CHARS} characters each), press **Segment**.')
        with gr.Row():
            # the upload's file, undecoded: load_image checks its size first
            image = gr.Image(type='filepath', image_mode=None, label='image',
                             elem_id='image')
            # the expression cap is checked on the server (parse_expressions),
            # which says so in the page; a browser-side max_length would cut
            # the text unseen
            text = gr.Textbox(lines=3, label='expressions (one per line)',
                              elem_id='expressions')
        button = gr.Button('Segment', elem_id='segment')
        message = gr.Markdown('', elem_id='message')
        slots = []
        for k in range(max_outputs):
            with gr.Row(visible=False) as row:
                # no floating label: it would cover the expression written above the image
                overlay = gr.Image(label=f'overlay {k + 1}', show_label=False,
                                   elem_id=f'overlay-{k}')
                mask = gr.Image(label=f'mask {k + 1}', elem_id=f'mask-{k}')
                prob = gr.Image(label=f'probability {k + 1}', elem_id=f'prob-{k}')
                with gr.Column():
                    layers = gr.Markdown(elem_id=f'layers-{k}')
                    download = gr.File(label=f'mask {k + 1} (PNG)', elem_id=f'download-{k}')
            slots.append((row, overlay, mask, prob, layers, download))
        if examples:
            gr.Examples(examples=[[e] for e in examples], inputs=[image])

        def segment(img, txt):
            updates = []
            try:
                shown = model.run(img, txt)
                note = f'{len(shown)} expression(s) segmented.'
            except DemoInputError as err:
                shown, note = [], f'**Error:** {err}'
            except Exception as err:  # noqa: BLE001 (a message, never a trace)
                shown, note = [], f'**Error:** {type(err).__name__}: {err}'
            for k in range(max_outputs):
                if k < len(shown):
                    out = shown[k]
                    updates += [gr.update(visible=True), out['overlay'], out['mask'],
                                out['prob'], f"**{out['expression']}** - {out['layers']}",
                                out['mask_file']]
                else:
                    updates += [gr.update(visible=False), None, None, None, '', None]
            return [note] + updates

        button.click(segment, inputs=[image, text],
                     outputs=[message] + [c for slot in slots for c in slot])
    return app


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a service manager's stop) interrupt the main
    thread as Ctrl-C does: Gradio's ``launch`` then closes its server, which
    deletes its cache, and the demo's folder is removed at exit. Without it
    the process would end at once, leaving both behind. Call from the main
    thread."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f'signal {signal.Signals(signum).name}')

    signal.signal(signal.SIGTERM, interrupt)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    from asda.utils.arg_types import add_model_args, positive_int
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_args(parser)
    parser.add_argument('--device', default='cpu',
                        help='where the model runs, e.g. cpu, cuda:0 (default cpu)')
    parser.add_argument('--port', type=int, default=7860,
                        help='port of the page (default 7860)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (default 127.0.0.1: this machine '
                        'only; 0.0.0.0: every interface)')
    parser.add_argument('--max-pixels', type=positive_int, default=None,
                        help='refuse an image of more pixels before decoding it '
                        '(default: asda.apis.image_io.DEFAULT_MAX_PIXELS, 8192 x 8192)')
    return parser


def parse_args(argv=None):
    from asda.apis.demo_model import parse_model_args
    return parse_model_args(build_parser(), argv)


def main(argv=None):
    args = parse_args(argv)
    stop_on_sigterm()
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.exit('error: the web demo needs gradio: `make demo-env` (pinned), or '
                 '`pip install -e .[demo]`')
    examples = sorted(os.path.join(EXAMPLE_DIR, f) for f in os.listdir(EXAMPLE_DIR)
                      if f.endswith('.png')) if osp.isdir(EXAMPLE_DIR) else []
    # Gradio opens each upload (lazily) before the page's function sees it;
    # Pillow's own limit would fail that open with a generic error, while
    # load_image refuses a large image with a message, before decoding it.
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    model = DemoModel(args.config, args.checkpoint, args.device, max_pixels=args.max_pixels)
    app = build_app(model, examples)
    frequency, age = app.delete_cache
    print(f'at most {model.max_expressions} expressions per request; result files are '
          f'deleted {age} s after they are made (checked every {frequency} s)', flush=True)
    print(f'serving on http://{args.host}:{args.port}', flush=True)
    app.launch(server_name=args.host, server_port=args.port, share=False,
               prevent_thread_lock=False)


if __name__ == '__main__':
    main()
