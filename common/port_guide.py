"""docs/porting.md, generated from the backends' own source so that it never drifts: ``nst port-guide``.

Each operation of the interface is shown in PyTorch and in MXNet/Gluon side by side, then every difference
between the frameworks this project found, with its symptom, its fix and the tests that show both.
The source is read with ``ast``; no framework is imported.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch", "mxnet")
TITLES = {"torch": "PyTorch", "mxnet": "MXNet/Gluon"}


@dataclass(frozen=True)
class Operation:
    """One operation of the interface and where each backend implements it."""

    title: str
    module: str
    torch: tuple[str, ...]
    mxnet: tuple[str, ...]
    note: str = ""


OPERATIONS = (
    Operation("Choosing the device", "processing", ("device",), ("device",)),
    Operation(
        "numpy in, numpy out",
        "processing",
        ("asarray", "to_numpy"),
        ("asarray", "to_numpy"),
        "Keep the dtype explicitly: `mx.nd.array` makes float32 of float64 input.",
    ),
    Operation(
        "Preprocessing: 8-bit pixels to a normalized (1, 3, H, W) tensor",
        "processing",
        ("to_tensor",),
        ("to_tensor",),
        "Both receive pixels already resized by the one PIL resize in `common/images.py`.",
    ),
    Operation("Postprocessing: tensor to pixels in [0, 1]", "processing", ("to_pixels",), ("to_pixels",)),
    Operation("Gram matrix", "losses", ("gram",), ("gram",)),
    Operation("Content loss", "losses", ("content_loss",), ("content_loss",)),
    Operation("Style loss", "losses", ("style_loss",), ("style_loss",)),
    Operation("Total variation loss", "losses", ("tv_loss",), ("tv_loss",)),
    Operation("VGG-19 features, loaded from arrays and frozen", "vgg", ("build",), ("build",)),
    Operation(
        "Tapping named layers in one forward pass",
        "vgg",
        ("FeatureExtractor", "feature_extractor"),
        ("FeatureExtractor", "feature_extractor"),
    ),
    Operation("The synthesized image as the only parameter", "trainer", ("SynthesizedImage",), ("SynthesizedImage",)),
    Operation(
        "Optimizer and learning-rate schedule",
        "trainer",
        ("Trainer.__init__", "Trainer.learning_rate"),
        ("TorchAdam", "Trainer.__init__", "Trainer.learning_rate"),
        "MXNet's built-in `adam` is a different update; the MXNet backend brings torch's.",
    ),
    Operation("SGD", "trainer", ("OPTIMIZERS",), ("TorchSGD", "OPTIMIZERS")),
    Operation("One training step", "trainer", ("Trainer.step",), ("Trainer.step",)),
    Operation(
        "Saving and restoring the optimizer's state (checkpoints)",
        "trainer",
        ("Trainer.state", "Trainer.load_state"),
        ("TorchOptimizer.state_dict", "TorchOptimizer.load_state_dict", "Trainer.state", "Trainer.load_state"),
    ),
    Operation("Gradient with respect to the input", "trainer", ("gradient",), ("gradient",)),
    Operation(
        "The HRNet photorealistic generator (document 004)",
        "generator",
        ("BottleneckBlock", "upsample", "HRNet.forward", "build"),
        ("instance_norm", "BottleneckBlock", "upsample", "HRNet.hybrid_forward", "Generator", "build"),
        "Built from the same canonical arrays (`common/photoreal.py`); MXNet's is hybridized and always runs in "
        "training mode, like its VGG.",
    ),
    Operation("Reading and writing weight files", "weights", ("read", "write"), ("read", "write")),
    Operation(
        "ImageNet weights through the library's own download and cache", "weights", ("pretrained",), ("pretrained",)
    ),
)

IDIOMS = (
    ("a model", "`nn.Module`, `forward`", "`gluon.Block` / `HybridBlock`, `forward` / `hybrid_forward(F, x)`"),
    ("a parameter", "`nn.Parameter(tensor)`", "`self.params.get(name, shape=..., init=...)`, then `.data()`"),
    ("freeze weights", "`requires_grad_(False)`", "`collect_params().setattr('grad_req', 'null')`"),
    ("inference mode", "`model.eval()`", "outside `autograd.record()`, or `record(train_mode=False)`"),
    ("record and differentiate", "automatic; `loss.backward()`", "`with autograd.record(): ...`; `loss.backward()`"),
    ("one optimizer step", "`opt.zero_grad()`; ...; `opt.step()`", "`trainer.step(batch_size)` (divides by it)"),
    ("step decay", "`lr_scheduler.StepLR(opt, N, f)`, `.step()`", "`trainer.set_learning_rate(lr * f)`"),
    ("matrix product", "`torch.mm(Y, Y.T)`", "`nd.dot(Y, Y, transpose_b=True)`"),
    ("a Python number", "`t.item()`", "`a.asscalar()`"),
    ("to numpy", "`t.detach().cpu().numpy()`", "`a.asnumpy()`"),
    ("a device", "`torch.device('cuda:0')`, `.to(device)`", "`mx.gpu(0)`, `.as_in_context(ctx)`"),
    ("save weights", "`torch.save(model.state_dict(), f)`", "`block.save_parameters(f)` / `nd.save(f, dict)`"),
    ("a compiled graph", "(eager here)", "`block.hybridize(static_alloc=True, static_shape=True)`"),
)


@dataclass(frozen=True)
class Pitfall:
    """A difference between the frameworks: what goes wrong, what to do, and the tests that show both."""

    title: str
    symptom: str
    fix: str
    demonstrated_by: str  # a test in tests/test_pitfalls.py
    fix_tested_by: str  # "file::test" of the test that shows this project's fix works


PITFALLS = (
    Pitfall(
        "torchvision's VGG uses in-place ReLUs",
        "Tapping a conv layer of `torchvision.models.vgg19().features` (as the d2l PyTorch code does for its style "
        "layers 0, 5, 10, 19 and content layer 25) returns the ReLU's output: the next layer overwrites the "
        "tensor you kept. The PyTorch variant of the documents matches Gram matrices of ReLU outputs, the MXNet "
        "variant of conv outputs; the two programs compute different things.",
        "Build the features with `nn.ReLU(inplace=False)` (or clone a tapped output).",
        "test_torchvision_in_place_relu_overwrites_a_tapped_conv_output",
        "tests/test_features.py::test_a_conv_layer_returns_the_conv_output_not_the_relu_after_it",
    ),
    Pitfall(
        "MXNet's `adam` is not torch's Adam",
        "`gluon.Trainer(..., 'adam')` folds bias correction into the learning rate, so epsilon is added to "
        "sqrt(v) before correction: in effect epsilon / sqrt(1 - beta2^t), 31.6x larger at step 1. Pixels with "
        "small gradients move differently from torch, most in the first steps.",
        "A `mx.optimizer.Optimizer` subclass computing torch's formula with NDArray operations in the weight's "
        "dtype (`TorchAdam` in backends/mxnet/trainer.py).",
        "test_mxnet_adam_adds_epsilon_before_bias_correction",
        "tests/test_training.py::test_adam_matches_torchs_formula_in_float64",
    ),
    Pitfall(
        "MXNet's fused optimizer kernels take their hyper-parameters as float32",
        "`adam_update` and `sgd_update` declare lr, betas, epsilon and weight decay as float: on float64 weights "
        "the learning rate 0.1 becomes 0.10000000149, and a float64 run drifts from torch's at 1e-9 after one step.",
        "The MXNet backend's optimizers (`TorchAdam`, `TorchSGD`) update with NDArray arithmetic, whose scalars are "
        "float64.",
        "test_mxnet_sgd_takes_the_learning_rate_as_float32",
        "tests/test_controls.py::test_each_optimizer_lowers_the_loss_and_agrees_across_backends",
    ),
    Pitfall(
        "MXNet with oneDNN: training-mode convolutions differ from inference-mode ones",
        "Inside `autograd.record()` (training mode by default) oneDNN runs a convolution through another "
        "primitive than outside it; results differ by about 1e-6 (seen on an AVX-512 Xeon; on an AVX2-only EPYC "
        "the two agree). Targets computed outside `record()` then do not match the same image's features inside "
        "it: the content loss of the content image is not 0.",
        "Run every forward pass of the network in the same mode. Training mode is the one to choose (next "
        "pitfall); VGG has no dropout or batch norm, so nothing else changes.",
        "test_mxnet_onednn_convolution_differs_between_training_and_inference_mode",
        "tests/test_parity.py::test_the_content_loss_at_the_content_image_is_exactly_zero",
    ),
    Pitfall(
        "MXNet with oneDNN: max-pool gradients are wrong after an inference-mode forward",
        "`autograd.record(train_mode=False)` (even with `backward(train_mode=False)`, as MXNet's documentation "
        "advises for gradients in prediction mode) gives input gradients off by up to 55% through max pooling; "
        "average pooling is not affected (apache/mxnet#10994, #16256).",
        "Record in training mode (the default) when you need gradients through max pooling.",
        "test_mxnet_onednn_max_pool_backward_is_wrong_after_an_inference_mode_forward",
        "tests/test_parity.py::test_check",
    ),
    Pitfall(
        "`mx.nd.array` makes float64 input float32",
        "`mx.nd.array(numpy_float64_array)` returns float32 unless `dtype=` is given: a float64 run is silently "
        "computed in float32 from there on.",
        "Pass `dtype=array.dtype` (backends/mxnet/processing.py `asarray`).",
        "test_mx_nd_array_makes_float64_numpy_input_float32",
        "tests/test_losses.py::test_gram_matches_the_reference",
    ),
    Pitfall(
        "`torchvision.transforms.ToTensor` is always float32",
        "Even when the model runs in float64, `ToTensor` divides by 255 in float32; widening afterwards keeps the "
        "float32 rounding (about 1e-8).",
        "Convert the uint8 pixels in the target dtype, then divide (backends/torch/processing.py `to_tensor`).",
        "test_torchvision_to_tensor_is_always_float32",
        "tests/test_preprocessing.py::test_float64_preprocessing_never_passes_through_float32",
    ),
    Pitfall(
        "Image sizes: (H, W) in one variant, (W, H) in the other, and two different resizers",
        "d2l's PyTorch code passes `(300, 450)` to `Resize`, which means 300 rows; its MXNet code passes "
        "`(450, 300)` to `image.imresize(img, w, h)`, which takes the width first. The pictures agree, but "
        "`Resize` on a PIL image is PIL's bilinear filter and `imresize` is OpenCV's: the pixels fed to the "
        "network differ before the first step.",
        "One resize for both backends, PIL bilinear, in `common/images.py`; sizes are (H, W) everywhere.",
        "test_mxnet_imresize_takes_width_first_and_is_not_pils_bilinear",
        "tests/test_preprocessing.py::test_preprocessing_the_same_file_gives_the_same_tensor_in_both_backends",
    ),
    Pitfall(
        "`ToPILImage` truncates floats to 8 bits",
        "`ToPILImage` computes `mul(255).byte()`: 100.9 becomes 100. Saved images are half a level darker on "
        "average than rounding gives, and differ from images saved through matplotlib or numpy rounding.",
        "Round to the nearest level (`common/images.py` `from_float`).",
        "test_torchvision_to_pil_image_truncates_instead_of_rounding",
        "tests/test_preprocessing.py::test_postprocess_clips_and_rounds_to_the_nearest_level",
    ),
    Pitfall(
        "MXNet's `FactorScheduler` stops at 1e-8",
        "`FactorScheduler(step, factor)` never goes below `stop_factor_lr=1e-8`; `StepLR` keeps multiplying. Long "
        "or steep decays stop decaying in MXNet only.",
        "Decay with `trainer.set_learning_rate(trainer.learning_rate * factor)` every N steps, as d2l's MXNet code "
        "does; the schedule is tested equal to `StepLR`'s.",
        "test_mxnet_factor_scheduler_stops_at_1e_8",
        "tests/test_training.py::test_the_learning_rate_schedule_is_the_same_in_both_backends",
    ),
    Pitfall(
        "When the learning rate decays",
        "The 2019 d2l MXNet loop decays `if i % lr_decay_epoch == 0 and i != 0`, after step i: one step later "
        "than `StepLR` and than the current d2l code, which decay after every `lr_decay_epoch` steps.",
        "One schedule for every backend: x factor after every N steps (`StepLR`'s), tested in both.",
        "test_the_2019_d2l_loop_decays_one_step_later_than_step_lr",
        "tests/test_training.py::test_the_learning_rate_schedule_is_the_same_in_both_backends",
    ),
    Pitfall(
        "`gluon.Trainer.step(batch_size)` divides the gradient",
        "Gluon rescales gradients by 1 / batch_size inside `step`; torch optimizers take the gradient as it is. "
        "Porting `trainer.step(n)` as `opt.step()` changes SGD's step size n-fold (Adam hides it, except through "
        "epsilon).",
        "Call `trainer.step(1)` when the loss is already what you want to differentiate.",
        "test_gluon_trainer_step_divides_gradients_by_the_batch_size",
        "tests/test_training.py::test_adam_matches_torchs_formula_in_float64",
    ),
    Pitfall(
        "float32 gradients are discontinuous where a ReLU input is 0",
        "A ReLU input within float32 rounding of 0 can round to opposite signs in two correct float32 programs; "
        "the ReLU then passes the gradient in one and blocks it in the other, and every pixel in that unit's "
        "receptive field gets a different gradient (6.8e-4 relative at the image of the test, where a conv4_3 "
        "input is 1.0e-6). torch float32 differs from torch float64 just as much.",
        "Prove sameness in float64 (differences of 1e-15); compare float32 gradients at an input where both "
        "programs take float64's branch at every ReLU and max-pool window (`nst parity` finds one and says which).",
        "test_float32_gradients_differ_where_a_relu_input_is_within_rounding_of_zero",
        "tests/test_parity.py::test_check",
    ),
    Pitfall(
        "torch's float32 results on CPU can differ from one process to the next",
        "The same float32 computation, run twice in one process, gives identical results; run in a fresh "
        "process, some results differ in the last bits (here: a convolution's backward on a 1x1 map, in about 2 "
        "processes of 5), because Intel MKL inside torch picks its code path at run time. A seeded run is then "
        "not reproducible, and resuming a run in a new process does not give the uninterrupted result.",
        "Set `MKL_CBWR=AUTO,STRICT` (MKL's Conditional Numerical Reproducibility) before torch is imported; the "
        "torch backend does, unless you set it, and warns if torch was imported first. It cost no speed here.",
        "test_torch_float32_results_can_differ_between_processes_without_mkl_cbwr",
        "tests/test_training.py::test_torch_results_are_identical_in_fresh_processes",
    ),
    Pitfall(
        "float32 Adam runs drift from exact arithmetic, and so from each other",
        "Adam moves every pixel by about lr whatever the size of its gradient, so rounding noise in a gradient "
        "near zero decides a pixel's direction. 10 steps at lr 0.05 from the content image end, on some inputs, "
        "more than 1e-3 (relative, in the content loss) from the same run in float64, in either framework; two "
        "float32 programs then differ by as much without computing different things (1.8e-3 between the backends "
        "at the image of the test, 8.8e-4 at the bundled samples).",
        "Prove sameness in float64 (1e-15 here). Compare float32 runs knowing their own error: `nst parity` "
        "reports them against the 1e-3 tolerance on the samples by default; pass your images to see yours.",
        "test_float32_adam_runs_from_the_content_image_drift_more_than_1e_3_from_exact_arithmetic",
        "tests/test_parity.py::test_check",
    ),
    Pitfall(
        "torch's channels_last float32 convolutions are less accurate",
        "`memory_format=torch.channels_last` makes oneDNN's CPU convolutions about 12% faster here but about 3x "
        "less accurate in float32 (1e-6 instead of 3e-7 relative) on an AVX-512 Xeon: enough to move ReLU "
        "branches (previous pitfall) and to fail float32 gradient parity. On an AVX2-only EPYC both layouts are "
        "equally accurate and channels_last makes a d2l step 20% faster.",
        "Keep NCHW for float32 runs that must match another framework on AVX-512 CPUs. The torch backend runs "
        "float32 channels_last only on x86 CPUs with AVX2 and no AVX-512 (`common/cpu.py` channels_last_fp32), "
        "and a test checks there that it is as accurate as NCHW.",
        "test_torch_channels_last_float32_convolutions_are_less_accurate",
        "tests/test_features.py::test_torch_channels_last_float32_is_as_accurate_where_the_backend_chooses_it",
    ),
    Pitfall(
        "Gluon's vgg19 keeps Dense layers in `features`; old Gluon files have prefixed names",
        "`gluon.model_zoo.vision.vgg19().features` has 41 layers: the same 37 as torchvision's, then Dense, "
        "Dropout, Dense, Dropout; the last Dense is `output`. Files written by the old `save_params` name "
        "parameters `conv0_weight` or `vgg0_conv0_weight`, by position rather than by index. Copying weights by "
        "name between the libraries maps the classifier wrongly or not at all.",
        "One naming for all: torchvision's (`common/weights.py` `canonical_names`); `nst convert-weights` writes "
        "the names each library's own vgg19 loads.",
        "test_gluon_vgg19_keeps_dense_layers_in_features_and_old_files_use_prefixed_names",
        "tests/test_convert.py::test_converted_files_load_into_each_librarys_own_vgg19",
    ),
    Pitfall(
        "Gluon's `InstanceNorm` trains a beta; torch's `InstanceNorm2d` has no parameters",
        "`nn.InstanceNorm2d(c)` defaults to `affine=False`: no scale, no shift. Gluon's `nn.InstanceNorm()` "
        "defaults to `center=True, scale=False`: gamma is frozen at 1 but beta is a trainable parameter, so a "
        "ported generator trains parameters the torch one does not have, and its saved weights do not match.",
        "The MXNet generator's `instance_norm`: `nn.BatchNorm(center=False, scale=False)` run in training mode on "
        "one image, which normalizes each channel over its pixels with no trained parameters, biased variance and "
        "eps 1e-5, as torch's defaults; checked against numpy in both backends.",
        "test_gluon_instance_norm_trains_a_beta_and_torchs_has_no_parameters",
        "tests/test_photoreal.py::test_instance_norm_is_torchs_default_no_affine_biased_variance_eps_1e_5",
    ),
    Pitfall(
        "MXNet's `InstanceNorm` operator refuses float64",
        "A float64 Gluon network with `nn.InstanceNorm` fails at its first forward with `Unsupported data type`; "
        "torch's instance norm computes in float64.",
        "The same `instance_norm` (BatchNorm of a batch of one, which takes float64 and hybridizes), used for "
        "both dtypes so that float32 and float64 run the same graph.",
        "test_mxnet_instance_norm_refuses_float64",
        "tests/test_photoreal.py::test_the_generator_gives_the_same_output_in_both_backends",
    ),
    Pitfall(
        "MXNet's `BilinearResize2D` aligns corners by default",
        "`F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)` (the document's upsample) samples "
        "at half-pixel centres; `mx.nd.contrib.BilinearResize2D` defaults to `align_corners=True` in 1.9.1, which "
        "differs by up to 0.6 on unit-variance inputs (and still not bit-equal to torch's `align_corners=True`).",
        "`align_corners=False` fixes the numbers, but the operator's backward was slow (next section), so the "
        "MXNet generator upsamples with slices and element-wise blends at the same half-pixel offsets; both "
        "backends are checked against a numpy reference of half-pixel bilinear upsampling.",
        "test_mxnet_bilinear_resize_aligns_corners_by_default",
        "tests/test_photoreal.py::test_upsampling_is_bilinear_without_aligned_corners",
    ),
    Pitfall(
        "MXNet's `hybridize(static_alloc=True)` gave the HRNet generator wrong weight gradients",
        "With static memory allocation, the generator (upsampling written with `slice_axis`, `concat`, `stack` "
        "and `reshape`; instance norms as BatchNorm) returned the right output, but weight gradients of its first "
        "layers up to 45% off, in float64 as in float32; the parity test's training run drifted 2% from torch's. "
        "Unhybridized, or hybridized without static_alloc, the gradients agree to 1e-14.",
        "The MXNet generator hybridizes without `static_alloc` (the VGG extractor keeps it: its gradients are "
        "checked against torch's and the reference).",
        "test_mxnet_static_alloc_gives_the_hrnet_generator_wrong_weight_gradients",
        "tests/test_parity.py::test_check",
    ),
    Pitfall(
        "Training the HRNet generator at the document's lr 5e-3 is chaotic (not a framework difference)",
        "In one framework, in float64, changing one bias of the generator by 1e-13 changes the loss after 14 Adam "
        "steps by more than 1e-4 (about 10x per step): no two programs can agree to 1e-9 over such a run, however "
        "exactly they compute. In float32 the weight gradients are themselves about 1e-3 from float64 in both "
        "frameworks, so Adam's first, sign-like step already moves a few weights the other way.",
        "`nst parity` compares 20 training steps at lr 1e-4 (x0.9 every 10), where the float64 runs agree to "
        "4e-14; float32 runs there are held to 1e-3 or, beyond it, to rounding (each backend's own float32 error "
        "explains the difference), as the Gatys runs are.",
        "test_training_the_hrnet_generator_at_lr_5e_3_amplifies_a_1e_13_change_to_1e_3",
        "tests/test_parity.py::test_check",
    ),
)


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    return isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name


def source(path: Path, symbol: str) -> str:
    """The source of a top-level function, class or assignment, or of 'Class.method', in a Python file."""
    text = path.read_text(encoding="utf-8")
    body: list[ast.stmt] = ast.parse(text).body
    node: ast.stmt | None = None
    for part in symbol.split("."):
        node = next((n for n in body if _defines(n, part)), None)
        if node is None:
            raise LookupError(f"{symbol} not found in {path}")
        body = getattr(node, "body", [])
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[start - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def _cell(code: str) -> str:
    return f"\n\n```python\n{code}\n```\n\n"


def render(root: Path = ROOT) -> str:
    """The whole guide as Markdown."""
    out = [
        "# Porting between PyTorch and MXNet/Gluon: the same style transfer, side by side",
        "",
        "Generated by `nst port-guide` from the two backends' own source; a test fails when this file is stale.",
        "Every operation of the interface (`common/interface.py`) is shown in both frameworks, then every",
        "difference between them that this project found: its symptom, the fix, a test that demonstrates the",
        "difference (in `tests/test_pitfalls.py`) and a test that shows the fix works.",
        "",
        "The objective itself is written once for both, in `common/objective.py`: it uses only the backend's loss",
        "functions and `+` and `*`, which torch tensors and NDArrays share (the documents' `#@tab all` cell):",
        "",
        "```python",
        source(root / "common" / "objective.py", "compute_loss"),
        "```",
        "",
        "## Idioms",
        "",
        "| | PyTorch | MXNet/Gluon |",
        "|---|---|---|",
        *[f"| {what} | {t} | {m} |" for what, t, m in IDIOMS],
        "",
        "## The interface, operation by operation",
        "",
    ]
    for op in OPERATIONS:
        out += [f"### {op.title}", ""]
        if op.note:
            out += [op.note, ""]
        heads = "".join(f"<th>{TITLES[b]}: <code>backends/{b}/{op.module}.py</code></th>" for b in BACKENDS)
        cells = "".join(
            "<td>"
            + _cell("\n\n\n".join(source(root / "backends" / b / f"{op.module}.py", s) for s in getattr(op, b)))
            + "</td>"
            for b in BACKENDS
        )
        out += ["<table>", f"<tr>{heads}</tr>", f"<tr valign=top>{cells}</tr>", "</table>", ""]
    out += ["## Pitfalls: where the frameworks differ", ""]
    for i, p in enumerate(PITFALLS, 1):
        out += [
            f"### {i}. {p.title}",
            "",
            f"**Symptom.** {p.symptom}",
            "",
            f"**Fix.** {p.fix}",
            "",
            f"**Tests.** Demonstrated by `tests/test_pitfalls.py::{p.demonstrated_by}`; "
            f"the fix is tested by `{p.fix_tested_by}`.",
            "",
        ]
    out += ["## Speed: where the same program runs at different speeds", ""]
    out += ['Measured by the benchmark scripts (README, "Speed"), not by tests: timings are not asserted.', ""]
    for title, text in SPEED_NOTES:
        out += [f"- **{title}.** {text}"]
    return "\n".join(out).rstrip("\n") + "\n"


# Differences in speed, not in results: each measured by benchmarks/step_time.py or nst bench.
SPEED_NOTES = (
    (
        "MXNet's thread pool",
        "MXNet sizes its OpenMP pool when it is imported; on these 2-core machines the documents' MXNet code ran on "
        "one thread (3.0 s/step at 300x450 against 1.6 s with OMP_NUM_THREADS=2). The MXNet backend sets "
        "OMP_NUM_THREADS to the usable cores before importing mxnet, and warns if mxnet came first.",
    ),
    (
        "Frozen weights",
        "The documents' PyTorch code leaves VGG's weights trainable, so every backward also computes 20 million "
        "weight gradients nobody uses; `requires_grad_(False)` (torch) and `grad_req = 'null'` (Gluon) skip them.",
    ),
    (
        "MXNet's matrix product on CPU",
        "`nd.dot` runs on OpenBLAS, `nd.FullyConnected` on oneDNN: the Gram matrices of a 300x450 step took 2.4x "
        "less time through FullyConnected (Y as data and as weight, no bias), with the same result to rounding.",
    ),
    (
        "bfloat16",
        "torch's `autocast(dtype=torch.bfloat16)` with channels_last uses the CPU's AMX units: 3x faster per step "
        "here, final d2l losses within 0.1% of float32. MXNet 1.9's AMP (`amp.convert_hybrid_block`) runs, but its "
        "oneDNN bf16 kernels were about 2x slower than float32 on this CPU, so MXNet's fast mode stays float32. "
        "Both need bf16 units: on an AMD EPYC with AVX2 only, torch emulated bf16 (a 300x450 step took 74 s "
        "against 2.0 s in float32) and MXNet could not build a bf16 convolution at all ('could not create a "
        "primitive descriptor iterator'), so `--precision bf16` is refused on such a CPU (common/cpu.py).",
    ),
    (
        "MXNet's `BilinearResize2D` backward and reduction-based normalization",
        "In the HRNet generator's step at 256x256, `contrib.BilinearResize2D`'s backward took 1 s of 2.6 s and an "
        "instance norm written with `mean` and broadcast operators another 1.1 s; torch's whole generator forward "
        "and backward took 0.47 s. Upsampling with slices and element-wise blends, and normalizing with "
        "`BatchNorm` (oneDNN) on the one image, brought MXNet's to about 0.6 s with the same numbers "
        "(`LayerNorm` over the pixels was as fast but gave non-finite values now and then once hybridized).",
    ),
)
