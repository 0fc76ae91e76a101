//! [`Supervisor`]: a generic supervisor actor, static or dynamic.

use super::SupervisionError;
use super::child_spec::ChildSpec;
use super::core::{ChildInfo, RestartTicket, SupervisorCore, SupervisorOptions};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use reporunner_protocols::admin::ActorTree;
use reporunner_protocols::ids::NodeId;

/// A supervisor actor: it starts its children in order, restarts them as their specs and
/// its strategy say, and stops them in reverse order when it stops.
///
/// Started with no children and [`SupervisorOptions::max_children`] set, it is a dynamic
/// supervisor (OTP's `simple_one_for_one`): children are added with
/// [`SupervisorMessage::StartChild`] and removed with [`SupervisorMessage::TerminateChild`].
///
/// When its restart intensity runs out it stops every child and fails, so its own
/// supervisor's policy applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supervisor;

/// What a [`Supervisor`] starts with.
#[derive(Debug, Default)]
pub struct SupervisorArguments {
    /// Strategy, intensity, backoff and child limit.
    pub options: SupervisorOptions,
    /// The children to start, in order.
    pub children: Vec<ChildSpec>,
}

/// A [`Supervisor`]'s state.
#[derive(Debug)]
pub struct SupervisorState {
    /// The supervision logic and the children.
    core: SupervisorCore,
}

/// A [`Supervisor`]'s messages. Local only: a [`ChildSpec`] holds a factory closure.
#[derive(RactorMessage)]
pub enum SupervisorMessage {
    /// Starts one more child.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisionError>>),
    /// Stops a child and removes it.
    TerminateChild(String, RpcReplyPort<Result<(), SupervisionError>>),
    /// Stops a child and starts it again from its spec.
    RestartChild(String, RpcReplyPort<Result<ActorCell, SupervisionError>>),
    /// Returns the children in start order.
    GetChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// Returns the live tree below this supervisor, labelled with `NodeId`.
    GetTree(NodeId, RpcReplyPort<Vec<ActorTree>>),
    /// A restart whose backoff has passed (sent by the supervisor to itself).
    RestartDue(RestartTicket),
}

impl std::fmt::Debug for SupervisorMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupervisorMessage::StartChild(spec, _) => write!(f, "StartChild({})", spec.id()),
            SupervisorMessage::TerminateChild(id, _) => write!(f, "TerminateChild({id})"),
            SupervisorMessage::RestartChild(id, _) => write!(f, "RestartChild({id})"),
            SupervisorMessage::GetChildren(_) => f.write_str("GetChildren"),
            SupervisorMessage::GetTree(..) => f.write_str("GetTree"),
            SupervisorMessage::RestartDue(t) => write!(f, "RestartDue({t:?})"),
        }
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = SupervisorArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut core = SupervisorCore::new(
            myself.get_cell(),
            args.options,
            super::send_after(myself.clone(), SupervisorMessage::RestartDue),
        );
        core.start_children(args.children).await?;
        Ok(SupervisorState { core })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.core.shutdown().await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMessage::StartChild(spec, reply) => {
                let _ = reply.send(state.core.start_child(spec).await);
            }
            SupervisorMessage::TerminateChild(id, reply) => {
                let _ = reply.send(state.core.terminate_child(&id).await);
            }
            SupervisorMessage::RestartChild(id, reply) => {
                let _ = reply.send(state.core.restart_child(&id).await);
            }
            SupervisorMessage::GetChildren(reply) => {
                let _ = reply.send(state.core.children());
            }
            SupervisorMessage::GetTree(node, reply) => {
                if !reply.is_closed() {
                    let _ = reply.send(state.core.child_trees(&node).await);
                }
            }
            SupervisorMessage::RestartDue(ticket) => state.core.restart_due(ticket).await?,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // An error here is the intensity running out: failing escalates it to our parent.
        state.core.handle_event(event).await?;
        Ok(())
    }
}
