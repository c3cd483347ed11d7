import roma
import torch

from dalnb import rotations as R


def test_axis_angle_round_trip_and_against_roma():
    torch.manual_seed(0)
    aa = torch.randn(100, 3, dtype=torch.float64)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(100, 1, dtype=torch.float64) * 3.0
    M = R.axis_angle_to_matrix(aa)
    assert torch.allclose(M, roma.rotvec_to_rotmat(aa))
    assert torch.allclose(R.matrix_to_axis_angle(M), aa, atol=1e-9)
    q = R.axis_angle_to_quaternion(aa)
    assert torch.allclose(R.quaternion_to_matrix(q), M, atol=1e-12)
    assert torch.allclose(R.quaternion_to_axis_angle(q), aa, atol=1e-9)
    assert torch.allclose(R.matrix_to_quaternion(M).abs(), q.abs(), atol=1e-9)


def test_near_zero_angle():
    aa = torch.tensor([[1e-9, -2e-9, 0.5e-9], [0.0, 0.0, 0.0]], dtype=torch.float64)
    M = R.axis_angle_to_matrix(aa)
    assert torch.allclose(M, torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=1e-8)
    assert torch.allclose(R.matrix_to_axis_angle(M), aa, atol=1e-8)


def test_gradcheck_axis_angle_including_small_angles():
    aa = torch.tensor([[0.3, -0.2, 0.9], [1e-4, 2e-4, -1e-4]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(R.axis_angle_to_matrix, (aa,))
    q = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(R.quaternion_to_matrix, (q,))


def test_nine_to_matrix_orthonormal_and_handedness():
    torch.manual_seed(1)
    m = torch.randn(50, 9, dtype=torch.float64)
    Q = R.nine_to_matrix(m)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(Q.transpose(-1, -2) @ Q, eye.expand(50, 3, 3), atol=1e-10)
    det = torch.linalg.det(Q)
    assert torch.allclose(det.abs(), torch.ones(50, dtype=torch.float64))
    # sign follows the input's handedness: Gram-Schmidt can return a reflection
    assert torch.equal(det > 0, torch.linalg.det(m.reshape(50, 3, 3)) > 0)
    rot = roma.random_rotmat(5, dtype=torch.float64)
    assert torch.allclose(R.nine_to_matrix(rot), rot, atol=1e-12)
