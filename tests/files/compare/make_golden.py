"""Write the golden notebooks of tests/files/compare (run once; the files are committed)."""
import base64, copy, io, json
import nbformat
import numpy as np
from PIL import Image, ImageDraw

v4 = nbformat.v4
OUT = str(__import__("pathlib").Path(__file__).resolve().parent)

def png(shift=0, noise=0.0, seed=0):
    img = Image.new("RGB", (320, 240), "white")
    d = ImageDraw.Draw(img)
    d.line([(20, 220), (300, 220)], fill="black", width=2)
    d.line([(20, 20), (20, 220)], fill="black", width=2)
    pts = [(20 + x, 220 - int(180 * (x / 280) ** 2)) for x in range(0, 281, 4)]
    d.line(pts, fill=(31, 119, 180), width=3)
    d.ellipse([150 + shift, 60, 200 + shift, 110], outline="red", width=3)
    a = np.asarray(img).astype(float)
    if noise:
        a = np.clip(a + np.random.default_rng(seed).normal(0, noise, a.shape), 0, 255)
    buf = io.BytesIO(); Image.fromarray(a.astype("uint8")).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode() + "\n"

def stream(text, name="stdout"):
    return v4.new_output("stream", name=name, text=text)

def result(data, n):
    return v4.new_output("execute_result", data=data, execution_count=n)

def reference(addr="0x7f3a2b1c9d40", stamp="2024-03-01T10:11:12.123456", tmp="/tmp/tmpab12cd",
              noise_num=0.0, bar="\r 50%|█████     | 5/10 [00:01<00:02]\r100%|██████████| 10/10 [00:02<00:00]\n",
              model="a1b2c3d4e5f60718293a4b5c6d7e8f90", uid="0f8fad5b-d9cb-469f-a165-70867728950e",
              image=None, mean=0.4999871234):
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    cells = []
    c = v4.new_code_cell("print(results)", execution_count=1)
    c.outputs = [stream(f"mean = {mean + noise_num}\nn = 1000\n"), stream("std = 0.2887\n")]
    cells.append(c)
    c = v4.new_code_cell("model", execution_count=2)
    c.outputs = [result({"text/plain": f"<analysis.Model object at {addr}>"}, 2)]
    cells.append(c)
    c = v4.new_code_cell("log()", execution_count=3)
    c.outputs = [stream(f"run at {stamp}\nsaved to {tmp}/fig.png\n"), stream(bar, "stderr")]
    cells.append(c)
    c = v4.new_code_cell("plot()", execution_count=4)
    c.outputs = [v4.new_output("display_data", data={"image/png": image or png(), "text/plain": "<Figure size 320x240 with 1 Axes>"})]
    cells.append(c)
    c = v4.new_code_cell("slider", execution_count=5)
    c.outputs = [result({"application/vnd.jupyter.widget-view+json": {"model_id": model, "version_major": 2, "version_minor": 0},
                         "text/plain": "IntSlider(value=3)"}, 5)]
    cells.append(c)
    c = v4.new_code_cell("show_html()", execution_count=6)
    c.outputs = [v4.new_output("display_data", data={"text/html": f'<div id="{uid}"></div><script>render("{uid}")</script>',
                                                     "text/plain": "<IPython.core.display.HTML object>"})]
    cells.append(c)
    c = v4.new_code_cell("1 / 0", execution_count=7)
    c.outputs = [v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=["..."])]
    cells.append(c)
    cells.append(v4.new_markdown_cell("The end."))
    nb.cells = cells
    return nb

def write(nb, name):
    nbformat.write(nb, f"{OUT}/{name}")

write(reference(), "reference.ipynb")
write(reference(addr="0x55d1e0a3f2b0", stamp="2026-11-26T13:05:00.000001", tmp="/tmp/tmpzz99yy",
                noise_num=3e-11, bar="\r 30%|███       | 3/10 [00:00<00:01]\r100%|██████████| 10/10 [00:01<00:00]\n",
                model="ffeeddccbbaa99887766554433221100", uid="9a1c3e5b-0000-4aaa-8bbb-123456789abc",
                image=png(noise=3.0, seed=1)), "same.ipynb")
write(reference(mean=0.52), "differs-number.ipynb")
write(reference(image=png(shift=90)), "differs-image.ipynb")
nb = reference(); nb.cells[2].outputs[0]["text"] = nb.cells[2].outputs[0]["text"].replace("run at", "finished at")
write(nb, "differs-text.ipynb")
nb = reference(); nb.cells[6].outputs[0]["ename"] = "ValueError"
write(nb, "differs-error.ipynb")
nb = reference()
for c in nb.cells:
    if c.cell_type == "code":
        c.outputs = []; c.execution_count = None
write(nb, "no-outputs.ipynb")
nb = reference(); p = v4.new_code_cell("n = 10", execution_count=1); p.metadata["tags"] = ["injected-parameters"]
nb.cells.insert(0, p); write(nb, "with-injected.ipynb")
