"""Installs the ``asda`` package from ``projects/asda``."""
from setuptools import find_packages, setup


def read_requirements(path='requirements.txt'):
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='asda-mmseg',
    version='0.1.0',
    description='ASDA referring image segmentation as an OpenMMLab plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    package_dir={'asda': 'projects/asda'},
    packages=['asda'] + [
        f'asda.{name}' for name in find_packages('projects/asda')
    ],
    install_requires=read_requirements(),
    extras_require={'tests': ['pytest', 'ruff'], 'onnx': ['onnx', 'onnxruntime'],
                    'demo': ['gradio>=6,<7', 'pillow<13']},
)
