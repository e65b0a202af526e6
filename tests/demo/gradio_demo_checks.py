"""The Gradio side of the web demo, run by test_gradio_demo.py with the demo
environment's Python (gradio lives there, not in the main environment)::

    python gradio_demo_checks.py CONFIG CHECKPOINT PHOTO OUT.json

Passes PHOTO through the page's image input as an upload is (Gradio's
numpy preprocessing), segments it with demo/gradio_demo.py's DemoModel and
builds the app; writes the shapes and the app's cache deletion setting.
"""
import json
import os.path as osp
import sys

import gradio as gr
from gradio.data_classes import FileData

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'demo'))
import gradio_demo  # noqa: E402


def main(config: str, checkpoint: str, photo: str, out: str) -> None:
    model = gradio_demo.DemoModel(config, checkpoint)
    try:
        upload = gr.Image(type='numpy').preprocess(FileData(path=photo))
        [result] = model.run(upload, 'the red circle')
        app = gradio_demo.build_app(model)
    finally:
        model.close()
    with open(out, 'w') as f:
        json.dump(dict(upload_shape=list(upload.shape), mask_shape=list(result['mask'].shape),
                       delete_cache=list(app.delete_cache)), f)


if __name__ == '__main__':
    main(*sys.argv[1:])
