"""Web demo: ``python demo/gradio_demo.py [CONFIG CHECKPOINT] [--device cpu]
[--port 7860]``.

Upload an image (or pick a bundled example), type one or more expressions,
one per line. For each expression the page shows the overlay with the
expression, the binary mask, the probability map and the low / mid CLIP
layers AFS chose, and offers the mask as a PNG download. With no arguments it
serves the checkpoint ``make demo`` trains (``work_dirs/demo``).

Gradio is an optional extra (``pip install -e .[demo]``, or ``make demo-env``
for the pinned set); ``import asda`` never needs it. Gradio's analytics are
off and the page loads nothing from the network.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Sequence

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'asda', 'asda_tiny_synthetic.py')
DEMO_WORK_DIR = osp.join(ROOT, 'work_dirs', 'demo')
EXAMPLE_DIR = osp.join(ROOT, 'data', 'synthetic', 'images')


class DemoInputError(ValueError):
    """Bad input from the page (shown there, never as a stack trace)."""


def default_checkpoint(work_dir: str = DEMO_WORK_DIR) -> str:
    """The checkpoint ``make demo`` left in ``work_dir``: the one its
    ``last_checkpoint`` records, or else its newest readable one (the rule
    ``--resume`` follows: :func:`asda.engine.find_resumable_checkpoint`)."""
    from asda.engine import find_resumable_checkpoint
    path = find_resumable_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if path is None:
        raise FileNotFoundError(
            f'no demo checkpoint in {work_dir}. Train it with `make demo` (about '
            f'12 minutes on 2 CPU cores), or pass CONFIG CHECKPOINT.')
    return path


def parse_expressions(text: Optional[str]) -> List[str]:
    """One expression per non-empty line."""
    lines = [line.strip() for line in (text or '').splitlines()]
    expressions = [line for line in lines if line]
    if not expressions:
        raise DemoInputError('Type at least one expression (one per line).')
    return expressions


def load_image(image) -> np.ndarray:
    """RGB uint8 array from what the page sends (array or file path),
    decoded as the inferencer decodes its inputs (:mod:`asda.apis.image_io`)."""
    from asda.apis.image_io import load_image as decode
    if image is None:
        raise DemoInputError('Upload an image or pick an example first.')
    try:
        bgr, _ = decode(image)
    except (OSError, TypeError, ValueError) as err:
        raise DemoInputError(f'Cannot read the image: {err}') from err
    return np.ascontiguousarray(bgr[..., ::-1])


class DemoModel:
    """The inferencer and the drawing behind the page."""

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu'):
        from asda.apis import RISInferencer
        from asda.visualization import RISLocalVisualizer
        self.inferencer = RISInferencer(config, checkpoint, device=device)
        self.visualizer = RISLocalVisualizer(name=f'gradio_demo_{id(self)}')
        self.out_dir = tempfile.mkdtemp(prefix='asda_gradio_')

    def run(self, image, text: str):
        """Per expression: overlay, mask, probability map, AFS layers,
        mask PNG path."""
        import cv2
        rgb = load_image(image)
        expressions = parse_expressions(text)
        results = self.inferencer(rgb, expressions)
        outputs = []
        for k, (expr, res) in enumerate(zip(expressions, results)):
            mask = np.asarray(res['mask'], dtype=bool)
            prob = np.asarray(res['prob'], dtype=np.float32)
            overlay = self.visualizer.draw_referring(
                rgb, expr, pred_mask=mask.astype(np.uint8), pred_caption=None)
            heat = cv2.applyColorMap((prob * 255).astype(np.uint8),
                                     cv2.COLORMAP_VIRIDIS)[..., ::-1]
            path = osp.join(self.out_dir, f'mask_{len(os.listdir(self.out_dir))}_{k}.png')
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


def build_app(model: DemoModel, examples: Sequence[str] = (), max_outputs: int = 4):
    """The Gradio Blocks app (results for up to ``max_outputs`` expressions)."""
    import gradio as gr

    with gr.Blocks(title='ASDA referring segmentation', analytics_enabled=False) as app:
        gr.Markdown('# ASDA: referring image segmentation\nUpload an image, type '
                    'one expression per line, press **Segment**.')
        with gr.Row():
            image = gr.Image(type='numpy', label='image', elem_id='image')
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
                outputs = model.run(img, txt)
                shown = outputs[:max_outputs]
                note = f'{len(outputs)} expression(s) segmented.' + (
                    f' Showing the first {max_outputs}.' if len(outputs) > max_outputs else '')
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='config (default: the demo config)')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint (default: the one `make demo` trained)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--host', default='127.0.0.1')
    args = parser.parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        parser.error('give both CONFIG and CHECKPOINT, or neither (the make demo model)')
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    config, checkpoint = args.config, args.checkpoint
    if config is None:
        config = DEMO_CONFIG
        try:
            checkpoint = default_checkpoint()
        except FileNotFoundError as err:
            sys.exit(f'error: {err}')
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.exit('error: the web demo needs gradio: `make demo-env` (pinned), or '
                 '`pip install -e .[demo]`')
    examples = sorted(os.path.join(EXAMPLE_DIR, f) for f in os.listdir(EXAMPLE_DIR)
                      )[:3] if osp.isdir(EXAMPLE_DIR) else []
    app = build_app(DemoModel(config, checkpoint, args.device), examples)
    print(f'serving on http://{args.host}:{args.port}', flush=True)
    app.launch(server_name=args.host, server_port=args.port, share=False,
               prevent_thread_lock=False)


if __name__ == '__main__':
    main()
