"""Sapwood's own programs as a workload runs them, derived from what users declare: the
JupyterLab command line of a Jupyter workspace, and the variable a volume's path is in.

Pure and shared: `sapwood render` (sapwood.manifests) and the controller's planners build
the same command from here.
"""

from __future__ import annotations

from sapwood.specs.objects import Workspace
from sapwood.specs.paths import workspace_path


def volume_env_name(volume: str) -> str:
    """``SAPWOOD_VOLUME_NOTES`` for ``notes``: the same variable the local runtime sets."""
    return "SAPWOOD_VOLUME_" + "".join(c if c.isalnum() else "_" for c in volume.upper())


def jupyter_command(workspace: Workspace, team: str) -> list[str]:
    """JupyterLab on every interface at ``$PORT``, its token the workspace token, its root
    the first volume (or the working directory), served under the workspace's gateway
    path."""
    volumes = workspace.spec.volumes
    root = f'"${{{volume_env_name(volumes[0].name)}}}"' if volumes else "."
    script = jupyter_script(
        "jupyter",
        ip="0.0.0.0",
        token='"$SAPWOOD_TOKEN"',
        root=root,
        base_url=workspace_path(team, workspace.metadata.name),
    )
    return ["/bin/sh", "-c", script]


def jupyter_script(jupyter: str, *, ip: str, token: str, root: str, base_url: str) -> str:
    """The shell line that starts JupyterLab, wherever it runs.

    JupyterLab refuses to run as root without ``--allow-root``: the flag is added only when
    the workload does run as root (a server run as root with isolation off, a root image),
    never for a team's own uid. It writes its runtime files and settings under ``$HOME``:
    a HOME it cannot write (or none) becomes the working directory.
    """
    return (
        '[ -n "$HOME" ] && [ -w "$HOME" ] || export HOME="$PWD"; '
        f'exec {jupyter} lab --no-browser --ip={ip} --port="$PORT" '
        f"--ServerApp.token={token} --ServerApp.base_url={base_url} "
        f'--notebook-dir={root} $([ "$(id -u)" = 0 ] && echo --allow-root)'
    )
