//! `init phase kubeconfig`: one leaf per kubeconfig file.
use super::InitContext;
use crate::phases::runner::Node;

pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "kubeconfig",
        summary: "Generate all kubeconfig files necessary to establish the control plane and the admin kubeconfig file",
        children: vec![],
    }
}
