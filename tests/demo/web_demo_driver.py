"""Drive the web demo (demo/gradio_demo.py) in headless Chromium; run by
test_gradio_browser.py with the demo environment's Python (selenium lives
there, not in the main environment).

Writes what the page showed as JSON (``--out``); the test asserts on it::

    python web_demo_driver.py --url http://127.0.0.1:PORT/ --image IMG \\
        --expression 'the red circle' --expression 'the hexagon' \\
        --download-dir DIR --screenshot SHOT.png --out result.json

Chromium and its driver are the Debian packages at fixed paths (selenium
never downloads a driver); the browser gets a fresh profile and no
background, sync, update or QUIC traffic.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
MAX_OUTPUTS = 4  # result rows the app lays out (build_app's max_outputs)


def start_browser(download_dir: str, profile_dir: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--no-first-run',
                '--disable-quic', '--disable-dev-shm-usage', '--window-size=1280,900',
                f'--user-data-dir={profile_dir}'):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument('--no-sandbox')  # Chromium refuses root otherwise
    options.add_experimental_option('prefs', {
        'download.default_directory': download_dir,
        'download.prompt_for_download': False})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd('Browser.setDownloadBehavior',
                           {'behavior': 'allow', 'downloadPath': download_dir})
    return driver


def image_state(driver, elem_id: str) -> dict:
    """Whether the component is shown, and its image's natural size once
    loaded (None while there is no loaded image). Gradio leaves hidden
    components out of the page."""
    found = driver.find_elements(By.ID, elem_id)
    if not found:
        return dict(displayed=False, size=None)
    elem = found[0]
    size = driver.execute_script(
        'const img = arguments[0].querySelector("img");'
        'return img && img.complete && img.naturalWidth > 0 ?'
        ' [img.naturalWidth, img.naturalHeight] : null;', elem)
    return dict(displayed=elem.is_displayed(), size=size)


def download(driver, elem_id: str, download_dir: str, timeout: float) -> str:
    """Click the file component's download link; the path of the file."""
    link = driver.find_element(By.CSS_SELECTOR, f'#{elem_id} a[download]')
    name = link.get_attribute('download')
    path = osp.join(download_dir, name)
    link.click()
    deadline = time.time() + timeout
    while not (osp.isfile(path) and not osp.exists(path + '.crdownload')):
        if time.time() > deadline:
            raise TimeoutError(f'{name} was not downloaded to {download_dir} '
                               f'in {timeout} s (found {os.listdir(download_dir)})')
        time.sleep(0.2)
    return path


def set_text(driver, text: str) -> str:
    area = driver.find_element(By.CSS_SELECTOR, '#expressions textarea')
    area.send_keys(Keys.CONTROL, 'a')
    area.send_keys(Keys.DELETE)
    if text:
        area.send_keys(text)
    return area.get_attribute('value')


def _settled(text: str, before: str) -> bool:
    """Whether the message box shows a new message and no longer Gradio's
    progress line ("processing | 0.2/0.9s", "queue: 1/1 | ..."), which it
    shows above the text while the event runs (on a loaded machine, after the
    new text has arrived)."""
    return text not in ('', before) and not any(
        line.startswith(('processing', 'queue:')) for line in text.splitlines())


def press_segment(driver, before: str, timeout: float) -> str:
    """Click Segment; the message once it differs from ``before`` and the
    event has finished."""
    driver.find_element(By.ID, 'segment').click()
    WebDriverWait(driver, timeout).until(
        lambda d: _settled(d.find_element(By.ID, 'message').text.strip(), before))
    return driver.find_element(By.ID, 'message').text.strip()


def results(driver, download_dir: str, timeout: float, with_files: bool) -> list:
    rows = []
    for k in range(MAX_OUTPUTS):
        row = dict(overlay=image_state(driver, f'overlay-{k}'),
                   mask=image_state(driver, f'mask-{k}'),
                   prob=image_state(driver, f'prob-{k}'),
                   layers=' '.join(e.text for e in driver.find_elements(By.ID, f'layers-{k}')))
        if with_files and row['mask']['displayed']:
            row['mask_file'] = download(driver, f'download-{k}', download_dir, timeout)
        rows.append(row)
    return rows


def save_page(driver, path: str, width: int = 1280) -> None:
    """Screenshot of the whole page: the viewport grown to the page's height
    (the app's content, not the window), then put back."""
    height = driver.execute_script(
        'return Math.ceil(document.querySelector(".gradio-container")'
        '.getBoundingClientRect().height)')
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', dict(
        width=width, height=int(height), deviceScaleFactor=1, mobile=False))
    driver.execute_script('window.scrollTo(0, 0)')
    time.sleep(1)  # relayout at the new size
    driver.save_screenshot(path)
    driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--image', required=True)
    parser.add_argument('--expression', action='append', required=True)
    parser.add_argument('--download-dir', required=True)
    parser.add_argument('--screenshot', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--timeout', type=float, default=120)
    args = parser.parse_args(argv)

    os.makedirs(args.download_dir, exist_ok=True)
    profile = tempfile.mkdtemp(prefix='asda_chromium_profile_')
    driver = start_browser(args.download_dir, profile)
    report = {}
    try:
        driver.get(args.url)
        wait = WebDriverWait(driver, args.timeout)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image input[type=file]'))
        driver.find_element(By.CSS_SELECTOR, '#image input[type=file]').send_keys(
            osp.abspath(args.image))
        # the upload is done once the input component previews the image
        wait.until(lambda d: image_state(d, 'image')['size'] is not None)
        report['input_size'] = image_state(driver, 'image')['size']
        report['typed'] = set_text(driver, '\n'.join(args.expression))
        report['message'] = press_segment(driver, '', args.timeout)
        report['results'] = results(driver, args.download_dir, args.timeout, True)
        save_page(driver, args.screenshot)

        report['typed_empty'] = set_text(driver, '')
        report['empty_message'] = press_segment(driver, report['message'], args.timeout)
        report['empty_results'] = results(driver, args.download_dir, args.timeout, False)
        report['resources'] = driver.execute_script(
            'return performance.getEntriesByType("resource").map(e => e.name)'
            '.concat([location.href])')
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
