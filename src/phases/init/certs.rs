//! `init phase certs`: one leaf per certificate of kubeadm's table, CAs first.
use super::InitContext;
use crate::phases::runner::Node;

pub(super) fn node() -> Node<InitContext> {
    Node::Group {
        name: "certs",
        summary: "Certificate generation",
        children: vec![],
    }
}
