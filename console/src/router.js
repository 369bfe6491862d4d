// The console's pages. The server answers index.html for exactly these paths
// (crates/server/src/console.rs, PAGES): keep the two lists in step.
import { createRouter, createWebHistory } from 'vue-router'
import { session, mayOpen, visibleViews } from './session'

const routes = [
  { path: '/', name: 'home', redirect: () => (visibleViews()[0] || { path: '/signin' }).path },
  { path: '/signin', name: 'signin', component: () => import('./views/SignIn.vue') },
  { path: '/agent', name: 'agent', component: () => import('./views/AgentConsole.vue') },
  { path: '/editor/:rest(.*)*', name: 'editor', component: () => import('./views/EditorWorkspace.vue') },
  { path: '/dashboard', name: 'dashboard', component: () => import('./views/ManagerDashboard.vue') },
]

export const router = createRouter({ history: createWebHistory('/'), routes })

router.beforeEach((to) => {
  if (to.name === 'signin' || to.name === 'home') {
    if (to.name === 'signin' && session.role) return { path: '/' }
    return true
  }
  if (!session.role) return { name: 'signin', query: { next: to.path } }
  if (!mayOpen(to.name)) return { path: '/' }
  return true
})
