import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { resolveSession } from './session'
import './style.css'

resolveSession()
  .catch(() => {})
  .finally(() => {
    createApp(App).use(router).mount('#app')
  })
